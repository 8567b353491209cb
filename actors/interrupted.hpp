#pragma once

// What a process killed half-way through a mutation leaves behind, settled
// by the next call that takes the workspace's lock. Every mutation holds
// that lock from start to end, so a record found mid-mutation under it was
// left by a process that is gone.

#include <chrono>
#include <string>

#include "actors/state_store.hpp"

namespace pyro {

/// Snapshots are written under `snapshots/<partial_prefix><pid>-...` and
/// renamed into place when whole.
inline constexpr const char* partial_prefix = ".partial-";

/// Takes the lock and reads the record, then settles it:
/// - `creating`: the create is rolled back (its sandbox and files
///   destroyed, secrets and metadata kept for `status`) and the record
///   says `failed`, with the reason; only delete is left to do;
/// - `resetting`: the reset is done again from the same snapshot;
/// - partial snapshots and scratch files of gone processes are removed.
result<locked_record> lock_settled(const state_store& store,
                                   const std::string& id,
                                   std::chrono::milliseconds timeout
                                   = std::chrono::seconds{30});

/// The error for an operation on a `failed` workspace.
error failed_workspace_error(const workspace_record& record);

} // namespace pyro
