#pragma once

// What the workspace actors need from a sandbox's agent, independent of how
// the bytes travel. One implementation speaks the wire protocol
// (docs/protocol.md) over the backend's endpoint.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/diff/manifest.hpp"
#include "messages/error.hpp"
#include "messages/workspace_requests.hpp"
#include "messages/workspace_results.hpp"
#include "vmm/backend.hpp"

namespace pyro {

/// A connection to one sandbox's agent. Guest paths are absolute (under
/// /workspace) or relative to /workspace; the agent refuses anything that
/// escapes.
class agent_link {
public:
  virtual ~agent_link() = default;

  virtual result<exec_outcome> exec(const exec_request& request) = 0;

  /// Streams a plain tar from the host into `dest`; all or nothing.
  /// `strip_components` leading name components are dropped from every
  /// member (1 restores an export of /workspace into /workspace).
  virtual status import_tar(const std::filesystem::path& tar,
                            const std::string& dest, size_t strip_components)
    = 0;

  /// Streams `path` out as a plain tar into a host file.
  virtual result<export_outcome> export_tar(const std::string& path,
                                            const std::filesystem::path& out)
    = 0;

  /// Walks /workspace: type, mode, size, link target, content hash.
  virtual result<manifest> walk() = 0;

  virtual result<std::vector<file_info>> list(const std::string& path,
                                              bool recursive)
    = 0;

  /// At most `max_bytes`; `truncated` tells whether more was left.
  virtual result<std::pair<std::string, bool>>
  read_file(const std::string& path, uint64_t max_bytes) = 0;

  /// Atomic on the agent's side; creates parents.
  virtual status write_file(const std::string& path, std::string_view content)
    = 0;

  virtual status remove(const std::string& path) = 0;

  /// Any other operation of docs/protocol.md (shells, services, secrets):
  /// its JSON request fields in, its JSON reply out.
  virtual result<nlohmann::json> call(const std::string& op,
                                      const nlohmann::json& args,
                                      std::chrono::milliseconds timeout)
    = 0;
};

/// Connects to the agent listening at `endpoint`.
result<std::unique_ptr<agent_link>>
connect_agent(const vmm::agent_endpoint& endpoint);

} // namespace pyro
