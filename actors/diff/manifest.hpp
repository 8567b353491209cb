#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro {

/// One entry of a /workspace walk, as the agent reports it.
struct manifest_entry {
  std::string path; ///< relative to /workspace, no leading slash
  /// file, directory, symlink or other.
  std::string type;
  uint32_t mode = 0;
  uint64_t size = 0;
  std::string link_target;
  /// Fast content hash (files only); equal hashes mean equal content.
  std::string hash;
};

/// A whole walk, keyed by path so two walks compare in one pass.
using manifest = std::map<std::string, manifest_entry>;

nlohmann::json to_json(const manifest& m);

/// Reads `{"entries": [{path, type, mode, size, link_target, hash}]}`.
result<manifest> manifest_from_json(const nlohmann::json& j);

} // namespace pyro
