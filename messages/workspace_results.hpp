#pragma once

// Replies of the workspace data plane: plain data that travels between
// actors and converts to the JSON every frontend prints.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro {

struct export_outcome {
  /// file, directory or symlink.
  std::string artifact_type;
  uint64_t entry_count = 0;
  uint64_t bytes = 0;
  /// FIFOs, sockets and device nodes left out; the first 100 by path.
  uint64_t skipped_count = 0;
  std::vector<std::string> skipped;
};

struct file_info {
  std::string path;
  std::string type;
  uint32_t mode = 0;
  uint64_t size = 0;
  std::string link_target;
};

struct sync_result {
  std::string workspace_id;
  std::string source_path;
  std::string dest;
  std::string source_kind;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

struct export_result {
  std::string workspace_id;
  std::string workspace_path;
  std::string output_path;
  std::string artifact_type;
  uint64_t entry_count = 0;
  uint64_t bytes_written = 0;
  std::string execution_mode;
  /// Special files (FIFOs, sockets, device nodes) that were not exported.
  uint64_t skipped_count = 0;
  std::vector<std::string> skipped;
};

struct file_read_result {
  std::string workspace_id;
  std::string path;
  std::string content;
  bool truncated = false;
  uint64_t max_bytes = 0;
};

struct patch_result {
  std::string workspace_id;
  std::vector<std::string> added;
  std::vector<std::string> modified;
  std::vector<std::string> deleted;
};

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

/// One journalled exec (`workspace logs`).
struct journal_entry {
  int64_t sequence = 0;
  std::string command;
  std::string cwd;
  int exit_code = -1;
  /// The signal that ended the command, or 0.
  int signal = 0;
  bool timed_out = false;
  int64_t duration_ms = 0;
  double started_at = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool truncated = false;
};

nlohmann::json to_json(const journal_entry& entry);
result<journal_entry> journal_entry_from_json(const nlohmann::json& j);

nlohmann::json to_json(const file_info& info);
nlohmann::json to_json(const std::vector<file_info>& files);
nlohmann::json to_json(const sync_result& r);
nlohmann::json to_json(const export_result& r);
nlohmann::json to_json(const file_read_result& r);
nlohmann::json to_json(const patch_result& r);

nlohmann::json to_json(const workspace_diff& diff);

nlohmann::json to_json(const journal_entry& entry);
result<journal_entry> journal_entry_from_json(const nlohmann::json& j);

/// A named archive of /workspace.
struct snapshot_info {
  std::string name;
  double created_at = 0;
  uint64_t bytes = 0;
  uint64_t entry_count = 0;
};

nlohmann::json to_json(const snapshot_info& info);

// -- CAF inspection (0.17 style) ---------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, export_outcome& x) {
  return f(x.artifact_type, x.entry_count, x.bytes, x.skipped_count, x.skipped);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_info& x) {
  return f(x.path, x.type, x.mode, x.size, x.link_target);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sync_result& x) {
  return f(x.workspace_id, x.source_path, x.dest, x.source_kind, x.entries,
           x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, export_result& x) {
  return f(x.workspace_id, x.workspace_path, x.output_path, x.artifact_type,
           x.entry_count, x.bytes_written, x.execution_mode, x.skipped_count,
           x.skipped);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_read_result& x) {
  return f(x.workspace_id, x.path, x.content, x.truncated, x.max_bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, patch_result& x) {
  return f(x.workspace_id, x.added, x.modified, x.deleted);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, diff_entry& x) {
  return f(x.path, x.status, x.old_type, x.new_type, x.binary, x.mode_only);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, diff_summary& x) {
  return f(x.total, x.added, x.modified, x.deleted, x.type_changed, x.binary);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_diff& x) {
  return f(x.changed, x.summary, x.entries, x.patch);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_entry& x) {
  return f(x.sequence, x.command, x.cwd, x.exit_code, x.signal, x.timed_out,
           x.duration_ms, x.started_at, x.stdout_text, x.stderr_text,
           x.truncated);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_info& x) {
  return f(x.name, x.created_at, x.bytes, x.entry_count);
}

} // namespace pyro
