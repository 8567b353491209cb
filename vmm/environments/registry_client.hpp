#pragma once

// A small client for the OCI distribution API v2 over libcurl: manifests,
// blobs (downloaded into a content-addressed cache, resumed with Range and
// verified by sha256), blob uploads, and bearer-token auth (a 401 with a
// `WWW-Authenticate: Bearer realm=...` challenge is answered by fetching a
// token from the realm and retrying).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/error.hpp"

namespace pyro::vmm {

/// `[http[s]://]host[:port]/repository[:tag|@digest]`.
struct registry_reference {
  /// "http://127.0.0.1:5000"; plain http only for 127.0.0.1/localhost
  /// unless the scheme is given.
  std::string base_url;
  std::string repository;
  /// Tag or "sha256:..." digest.
  std::string reference = "latest";
};

/// Parses an image reference; `invalid_argument` when it has no host or
/// repository.
result<registry_reference> parse_registry_reference(std::string_view text);

/// A manifest body as served, with its media type and digest.
struct fetched_manifest {
  std::string body;
  std::string media_type;
  std::string digest;
};

class registry_client {
public:
  /// `token` is sent as a bearer token, and to the token realm when the
  /// registry challenges.
  registry_client(std::string base_url, std::string token);

  result<fetched_manifest> get_manifest(const std::string& repository,
                                        const std::string& reference);

  /// Downloads blob `digest` to `target` unless it is already there:
  /// resumes `target.partial` with a Range request, verifies the sha256
  /// and only then renames it into place. `on_bytes` gets running totals.
  status fetch_blob(const std::string& repository, const std::string& digest,
                    const std::filesystem::path& target,
                    const std::function<void(uint64_t)>& on_bytes = {});

  /// Uploads a file as a blob (skipped when the registry has it already).
  status push_blob(const std::string& repository, const std::string& digest,
                   const std::filesystem::path& file);

  status put_manifest(const std::string& repository,
                      const std::string& reference, const std::string& body,
                      const std::string& media_type);

private:
  struct response {
    long status = 0;
    std::string body;
    std::string content_type;
    std::string location;
    std::string www_authenticate;
    std::string docker_content_digest;
  };
  struct request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;
    std::string body;
    const std::filesystem::path* upload_file = nullptr;
    /// Streams the body here instead of into response::body.
    std::function<bool(std::string_view)> sink;
  };

  result<response> perform(const request& req);
  /// perform(), answering one bearer challenge.
  result<response> send(const request& req);
  /// fetch_blob's work, under its lock.
  status download_blob(const std::string& repository,
                       const std::string& digest,
                       const std::filesystem::path& target,
                       const std::function<void(uint64_t)>& on_bytes);
  status fetch_token(const std::string& challenge);
  std::string absolute(const std::string& location) const;

  std::string base_url_;
  std::string token_;
  std::string bearer_;
};

} // namespace pyro::vmm
