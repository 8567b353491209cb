#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro {

/// How /workspace was first filled.
struct workspace_seed {
  /// empty, directory or tar_archive.
  std::string mode = "empty";
  std::string source_path;
};

/// A secret as the records keep it: its name and where it came from, never
/// its value.
struct secret_ref {
  std::string name;
  /// literal or file.
  std::string source_kind;
};

/// The persistent description of one workspace (`workspace.json`).
struct workspace_record {
  /// Bumped whenever a field changes meaning; readers refuse newer records.
  static constexpr int current_schema = 1;

  int schema_version = current_schema;
  std::string workspace_id;
  std::string name;
  std::map<std::string, std::string> labels;
  std::string environment;
  int32_t vcpu_count = 1;
  int32_t mem_mib = 1024;
  /// The disk limit asked for at create; 0 for workspaces made before there
  /// were limits (they keep unlimited layers).
  int32_t disk_mib = 0;
  /// Whether the backend holds the workspace to `disk_mib` (the sandbox
  /// backend run as root does); asked of the backend when the record is
  /// shown, never stored.
  bool disk_limited = false;
  int64_t ttl_seconds = 600;
  double created_at = 0;
  double expires_at = 0;
  double last_activity_at = 0;
  /// Stored: creating, started, resetting, stopped or failed (a create
  /// that was interrupted and rolled back; see `reason`). Shown only, never
  /// stored: unresponsive (the agent does not answer), agent_gone (the
  /// sandbox is gone), for a record that says started, and expired (past
  /// `expires_at`: `reap` deletes it, `update --ttl-seconds` extends it);
  /// see `hint`.
  std::string state = "started";
  /// Why a workspace is `failed`; empty (and left out of the JSON)
  /// otherwise.
  std::string reason;
  /// While `resetting`: the snapshot being restored, so that a reset killed
  /// half-way is finished by the next call; empty otherwise.
  std::string reset_from;
  /// workspace, or vm for the one-shot `vm_*` sandboxes (hidden from
  /// `workspace list`).
  std::string kind = "workspace";
  std::string network_policy = "off";
  std::string backend;
  std::string execution_mode;
  workspace_seed seed;
  int64_t command_count = 0;
  std::vector<secret_ref> secrets;
  /// Services by state (total, running, ready, exited, stopped, failed),
  /// asked of the agent when the record is shown; never stored.
  std::map<std::string, int64_t> service_counts;
  /// What to do about a shown-only state; empty (and left out of the JSON)
  /// otherwise. Never stored.
  std::string hint;
};

nlohmann::json to_json(const workspace_record& record);

/// Validates and reads a record; names the first field that is wrong.
result<workspace_record> workspace_record_from_json(const nlohmann::json& j);

/// Workspace ids are what `workspace create` makes or a user typed: letters,
/// digits, '-' and '_', 1-64 characters, so an id is always a safe path
/// component.
status validate_workspace_id(const std::string& id);

/// One row of `workspace list`: a record, or why it could not be read.
struct workspace_entry {
  std::string workspace_id;
  /// Empty when `record` is valid; otherwise what is wrong with it.
  std::string problem;
  workspace_record record;
};

nlohmann::json to_json(const workspace_entry& entry);

/// A change to a workspace's name and labels (`workspace update`).
struct workspace_update {
  bool set_name = false;
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<std::string> clear_labels;
  /// A new TTL counted from now (0: never expires), which also brings an
  /// expired workspace back.
  bool set_ttl = false;
  int64_t ttl_seconds = 0;
};

/// Checks a label key: 1-63 of [A-Za-z0-9._-], starting alphanumeric.
status validate_label_key(const std::string& key);

// -- CAF inspection (0.17 style) ---------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_seed& x) {
  return f(x.mode, x.source_path);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, secret_ref& x) {
  return f(x.name, x.source_kind);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_record& x) {
  return f(x.schema_version, x.workspace_id, x.name, x.labels, x.environment,
           x.vcpu_count, x.mem_mib, x.disk_mib, x.disk_limited, x.ttl_seconds,
           x.created_at, x.expires_at, x.last_activity_at, x.state, x.reason, x.reset_from, x.network_policy, x.backend,
           x.execution_mode, x.seed, x.command_count, x.secrets, x.kind,
           x.service_counts, x.hint);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_update& x) {
  return f(x.set_name, x.name, x.labels, x.clear_labels, x.set_ttl,
           x.ttl_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_entry& x) {
  return f(x.workspace_id, x.problem, x.record);
}

} // namespace pyro
