#pragma once

#include <chrono>
#include <filesystem>

#include "messages/error.hpp"
#include "vmm/backend.hpp"
#include "vmm/process_identity.hpp"

namespace pyro::vmm {

// The runtime-dir conventions shared by backends whose agent is a detached
// host process (sandbox, host): runtime/pid.json names the process and
// runtime/sock/agent.sock is where its agent listens.

[[nodiscard]] std::filesystem::path pid_file(const sandbox_spec& spec);
[[nodiscard]] std::filesystem::path socket_path(const sandbox_spec& spec);

/// The recorded agent process; pid 0 when none is recorded.
[[nodiscard]] process_identity read_identity(const sandbox_spec& spec);

/// TERM (and CONT, so that a process stopped by SIGSTOP can act on it), a
/// grace period, then KILL; the grace period is cut short when the process
/// stays stopped (a tracer holds it). Succeeds at once if already gone.
status terminate(const process_identity& id, std::chrono::milliseconds grace);

/// Removes a stopped sandbox's `backend_dir` and its runtime dir; the first
/// failure is the error, naming `what` they held.
status remove_backend_files(const sandbox_spec& spec,
                            const std::filesystem::path& backend_dir,
                            const std::string& what);

/// `failed_precondition` naming the workspace, with a hint to start it.
error not_running_error(const sandbox_spec& spec);

/// A backend whose agent is one detached host process found through the
/// runtime dir: what `running` and `endpoint` mean is the same for all of
/// them, and stopping starts with terminating that process.
class detached_agent_backend : public backend {
public:
  result<agent_endpoint> endpoint(const sandbox_spec& spec) override;
  [[nodiscard]] bool running(const sandbox_spec& spec) override;

protected:
  /// Terminates the agent process and removes its pid file and socket.
  static status stop_agent(const sandbox_spec& spec);
};

} // namespace pyro::vmm
