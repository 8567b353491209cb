#pragma once

// The blocking work behind each workspace request, as plain functions over
// the state store and the agent link, so that the actors stay thin and the
// logic is testable on its own. Callers are detached actors.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "actors/agent_link.hpp"
#include "actors/create_request.hpp"
#include "actors/state_store.hpp"

namespace pyro {

/// Validates, boots the sandbox, seeds /workspace and stores the immutable
/// baseline. On any failure everything created so far is torn down and the
/// id does not exist afterwards.
result<workspace_record> create_workspace_now(const state_store& store,
                                              const std::string& id,
                                              const create_request& request,
                                              const progress_fn& progress);

/// Boots the workspace's sandbox with its environment and returns a link to
/// its agent (already running: just the link).
result<std::unique_ptr<agent_link>> boot_workspace(const state_store& store,
                                                   const workspace_record& r);

/// For a new workspace: a parked sandbox from the pool when one fits (the
/// sandbox backend, network policy off), else boot_workspace.
result<std::unique_ptr<agent_link>> claim_or_boot(const state_store& store,
                                                  const workspace_record& r);

/// A link to the running agent of a started workspace.
result<std::unique_ptr<agent_link>> open_agent(const state_store& store,
                                               const workspace_record& record);

/// Runs a command in /workspace. The sequence number is taken under the
/// workspace lock, so concurrent execs from several processes get distinct
/// numbers; the command itself runs without the lock.
result<exec_result> exec_in_workspace(const state_store& store,
                                      const std::string& id,
                                      const exec_request& request);

/// Where a workspace keeps its baseline: workspace.tar and manifest.json.
std::filesystem::path baseline_dir(const state_store& store,
                                   const std::string& id);

/// The rootfs directory of an installed environment.
result<std::filesystem::path> installed_rootfs(const std::string& environment);

} // namespace pyro
