#pragma once

// The blocking work behind each workspace request, as plain functions over
// the state store and the agent link, so that the actors stay thin and the
// logic is testable on its own. Callers are detached actors.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "actors/agent_link.hpp"
#include "actors/create_request.hpp"
#include "actors/sandbox_pool.hpp"
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

/// A new workspace's sandbox, booted or claimed from the pool.
struct new_sandbox {
  std::unique_ptr<agent_link> link;
  /// A claimed sandbox's PID 1 is still becoming the workspace's agent.
  std::optional<vmm::claim_ticket> pending;

  /// Waits for that, once; the agent answers afterwards.
  status ready();
};

/// For a new workspace whose directory does not exist yet: a parked
/// sandbox from the pool when one fits (the sandbox backend, network policy
/// off); its slot directory becomes the workspace directory.
std::optional<claimed_slot> claim_parked(const state_store& store,
                                         const workspace_record& r);

/// The new workspace's sandbox: the claimed one, else one booted now.
result<new_sandbox> start_sandbox(const state_store& store,
                                  const workspace_record& r,
                                  std::optional<claimed_slot> claimed);

/// Stores /workspace as the baseline in `dir`: workspace.tar and
/// manifest.json, both synced.
status take_baseline(agent_link& link, const std::filesystem::path& dir);

/// How long a started workspace's agent may take to answer `hello`. Every
/// call on the agent asks first, so one that is frozen (stopped, held by a
/// tracer, wedged) fails the call within this instead of after the call's
/// own timeout; a command's run time is not bounded by it.
inline constexpr std::chrono::seconds agent_answer_deadline{2};

/// A link to the running agent of a started workspace, once it has answered
/// `hello` within agent_answer_deadline. `failed_precondition` when the
/// record or the sandbox is not running (hint: start it); `unavailable` with
/// restart_hint() when the agent does not answer.
result<std::unique_ptr<agent_link>> open_agent(const state_store& store,
                                               const workspace_record& record);

/// Asks the agent for `hello` within agent_answer_deadline; `unavailable`
/// with restart_hint() when it does not answer.
status check_answers(agent_link& link, const std::string& id);

/// What to do about an agent that does not answer: stop, then start.
std::string restart_hint(const std::string& id);

/// Whether a workspace whose record says started has lost its sandbox: its
/// backend finds no process for it (killed, crashed, or the host restarted).
/// Looks at the process only, never asks the agent.
[[nodiscard]] bool sandbox_gone(const state_store& store,
                                const workspace_record& record);

/// Shows a record past its expiry as `expired`, with a hint; whether it
/// did.
bool show_if_expired(workspace_record& record);

/// For a record shown to a caller (status, list): a started workspace whose
/// sandbox is gone shows as `agent_gone`, with a hint to start it. Only
/// the reply changes; the stored record says started until stop or start.
/// Returns whether it did.
bool show_if_gone(const state_store& store, workspace_record& record);

/// Runs a command in /workspace, without the workspace lock; then, under
/// it, journals it with the next sequence number, so concurrent execs from
/// several processes get distinct numbers.
result<exec_result> exec_in_workspace(const state_store& store,
                                      const std::string& id,
                                      const exec_request& request);

/// Where a workspace keeps its baseline: workspace.tar and manifest.json.
std::filesystem::path baseline_dir(const state_store& store,
                                   const std::string& id);

/// The rootfs directory of an installed environment.
result<std::filesystem::path> installed_rootfs(const std::string& environment);

} // namespace pyro
