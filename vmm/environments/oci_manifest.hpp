#pragma once

// OCI image / Docker v2 manifests: what pyro writes when it pushes an
// environment, and what it accepts when it pulls one.

#include <cstdint>
#include <string>
#include <vector>

#include "messages/error.hpp"

namespace pyro::vmm {

inline constexpr const char* oci_manifest_type
  = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* oci_index_type
  = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* docker_manifest_type
  = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* docker_list_type
  = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* oci_config_type
  = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* oci_layer_gzip_type
  = "application/vnd.oci.image.layer.v1.tar+gzip";

struct oci_descriptor {
  std::string media_type;
  std::string digest;
  uint64_t size = 0;
};

/// An image manifest: one config blob and its layers, bottom first.
struct oci_manifest {
  oci_descriptor config;
  std::vector<oci_descriptor> layers;
};

/// Either an image manifest, or (from an index / manifest list) the digest
/// of the linux/amd64 manifest to fetch next.
struct parsed_manifest {
  bool is_index = false;
  std::string platform_digest;
  oci_manifest manifest;
};

/// Parses a manifest or index by its media type (or its own mediaType
/// field when the registry sent none); `invalid_argument` for anything
/// else, and `not_found` for an index without linux/amd64.
result<parsed_manifest> parse_manifest(const std::string& body,
                                       const std::string& media_type);

/// The OCI image manifest JSON for `m`.
std::string render_manifest(const oci_manifest& m);

} // namespace pyro::vmm
