#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pyro {

/// Serialises JSON that may hold bytes from a sandbox (command output, file
/// names, file contents) which are not valid UTF-8: such bytes become
/// U+FFFD instead of throwing.
inline std::string dump_json(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace pyro
