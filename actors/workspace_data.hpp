#pragma once

#include "messages/workspace_results.hpp"

// The data plane of a started workspace: files in and out, edits, patches,
// diffs and the journal. Plain blocking functions over the state store and
// the agent link; the workspace actor calls them.

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/agent_link.hpp"
#include "actors/diff/workspace_diff.hpp"
#include "actors/journal.hpp"
#include "actors/state_store.hpp"

namespace pyro {

/// Checks a guest path and makes it absolute under /workspace: relative
/// paths are taken from /workspace; `..` and paths elsewhere are refused.
result<std::string> workspace_path(const std::string& path);

/// Imports a host directory or archive under `dest` (default /workspace).
result<sync_result> sync_push(const state_store& store, const std::string& id,
                              const std::string& source,
                              const std::string& dest);

/// Copies a file, directory or symlink from the workspace to a host path
/// that must not exist unless `overwrite`.
result<export_result> export_path(const state_store& store,
                                  const std::string& id,
                                  const std::string& path,
                                  const std::string& output, bool overwrite);

/// /workspace now against the baseline taken at create.
result<workspace_diff> diff_against_baseline(const state_store& store,
                                             const std::string& id);

result<std::vector<file_info>> list_files(const state_store& store,
                                          const std::string& id,
                                          const std::string& path,
                                          bool recursive);

result<file_read_result> read_file(const state_store& store,
                                   const std::string& id,
                                   const std::string& path, uint64_t max_bytes);

status write_file(const state_store& store, const std::string& id,
                  const std::string& path, const std::string& text);

/// Applies a unified diff to /workspace: every file is read and every hunk
/// checked first; only then is anything written.
result<patch_result> apply_patch(const state_store& store,
                                 const std::string& id,
                                 const std::string& patch);

/// The exec journal, oldest first.
result<std::vector<journal_entry>> read_journal(const state_store& store,
                                                const std::string& id);

/// Reads chosen regular-file members of a tar (paths relative to its root)
/// in one pass.
result<std::map<std::string, std::string>>
read_tar_members(const std::filesystem::path& tar,
                 const std::set<std::string>& wanted);

} // namespace pyro
