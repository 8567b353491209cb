#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/diff/manifest.hpp"
#include "messages/error.hpp"
#include "messages/workspace_results.hpp"

namespace pyro {

/// Content of a regular file on one side of the comparison.
using content_source = std::function<result<std::string>(const std::string&)>;

/// Compares two walks of /workspace. Only entries whose type, mode, size,
/// hash or link target differ are looked at further, and only their
/// contents are fetched (through `old_content` and `new_content`).
result<workspace_diff> compare_manifests(const manifest& before,
                                         const manifest& after,
                                         const content_source& old_content,
                                         const content_source& new_content);

/// A unified diff of one file's two versions, via libgit2; empty when equal.
result<std::string> unified_file_diff(const std::string& path,
                                      const std::string& before,
                                      const std::string& after, bool added,
                                      bool deleted);

/// Git's rule: a NUL in the first 8000 bytes makes a file binary.
[[nodiscard]] bool looks_binary(const std::string& content);

} // namespace pyro
