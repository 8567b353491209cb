#pragma once

// Stop, start, snapshots and reset: the operations that rebuild or pause a
// workspace's sandbox while keeping its identity.

#include <string>
#include <vector>

#include "actors/state_store.hpp"
#include "messages/workspace_results.hpp"

namespace pyro {

/// Stops the sandbox (the agent syncs first); /workspace is kept.
result<workspace_record> stop_workspace_now(const state_store& store,
                                            const std::string& id);

/// Boots a stopped workspace again over the same files; one whose sandbox
/// still runs keeps it, and fails `unavailable` (hint: stop, then start)
/// when its agent does not answer.
result<workspace_record> start_workspace_now(const state_store& store,
                                             const std::string& id);

/// Saves /workspace as snapshots/<name>/ (archive and manifest).
result<snapshot_info> create_snapshot_now(const state_store& store,
                                          const std::string& id,
                                          const std::string& name);

result<std::vector<snapshot_info>> list_snapshots_now(const state_store& store,
                                                      const std::string& id);

status delete_snapshot_now(const state_store& store, const std::string& id,
                           const std::string& name);

/// Rebuilds the sandbox from scratch and fills /workspace from the baseline
/// or a snapshot; clears the journal, shells and services; keeps the id,
/// spec, snapshots and baseline.
result<workspace_record> reset_workspace_now(const state_store& store,
                                             const std::string& id,
                                             const std::string& snapshot);

/// The reset itself, for a caller that holds the lock (reset, and the
/// finishing of a reset that was interrupted).
result<workspace_record> reset_locked(const state_store& store,
                                      locked_record& locked,
                                      const std::string& snapshot);

/// Snapshot names: 1-64 of [A-Za-z0-9._-], not starting with '.';
/// "baseline" is reserved.
status validate_snapshot_name(const std::string& name);

} // namespace pyro
