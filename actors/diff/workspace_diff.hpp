#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/diff/manifest.hpp"
#include "messages/error.hpp"

namespace pyro {

struct diff_entry {
  std::string path;
  /// added, modified, deleted or type_changed.
  std::string status;
  std::string old_type;
  std::string new_type;
  bool binary = false;
  /// Only the permission bits changed.
  bool mode_only = false;
};

struct diff_summary {
  size_t total = 0;
  size_t added = 0;
  size_t modified = 0;
  size_t deleted = 0;
  size_t type_changed = 0;
  size_t binary = 0;
};

struct workspace_diff {
  bool changed = false;
  diff_summary summary;
  std::vector<diff_entry> entries;
  /// Unified diff text for text files (git style, a/ and b/ prefixes).
  std::string patch;
};

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

nlohmann::json to_json(const workspace_diff& diff);

} // namespace pyro
