#pragma once

// Moving an environment's rootfs to and from an OCI registry: push writes
// one tar+gzip layer, a config and an image manifest; pull resolves an
// index to linux/amd64, downloads every blob into the content-addressed
// cache (`<cache>/blobs/sha256/<hex>`, resumable, sha256 verified) and
// extracts the layers safely into a directory.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// Receives "[pull] phase=... environment=..." / "[push] ..." lines.
using transfer_progress = std::function<void(std::string_view line)>;

struct registry_options {
  /// Bearer token; empty => env PYRO_REGISTRY_TOKEN (may be empty too).
  std::string token;
  transfer_progress progress;
};

struct push_report {
  std::string reference;
  std::string manifest_digest;
  std::vector<std::string> blob_digests;
  uint64_t bytes = 0;
};

nlohmann::json to_json(const push_report& report);

/// Publishes `rootfs` as `reference` (`HOST[:PORT]/REPO[:TAG]`, optionally
/// with `http://`), `environment` and `extra_config` recorded in the config
/// blob. `work_dir` holds the layer while it is uploaded.
result<push_report> push_rootfs(std::string_view environment,
                                const std::filesystem::path& rootfs,
                                std::string_view reference,
                                const std::filesystem::path& work_dir,
                                const registry_options& options);

struct pulled_rootfs {
  std::string reference;
  std::string manifest_digest;
  std::vector<std::string> layer_digests;
  std::string config_digest;
  uint64_t bytes = 0;
};

/// Pulls `reference` and extracts it into `rootfs` (which should be a
/// fresh staging directory: on failure it is left half-written for the
/// caller to discard). Blobs are kept under `blob_dir/sha256/`.
result<pulled_rootfs> pull_rootfs(std::string_view environment,
                                  std::string_view reference,
                                  const std::filesystem::path& rootfs,
                                  const std::filesystem::path& blob_dir,
                                  const registry_options& options);

/// Registry reference for `environment` under the registry base `registry`
/// (e.g. "http://127.0.0.1:5000/pyro" + "debian:12" =>
/// ".../pyro/debian:12"; "debian:12-base" => ".../pyro/debian:12-base").
std::string environment_reference(std::string_view registry,
                                  std::string_view environment);

} // namespace pyro::vmm
