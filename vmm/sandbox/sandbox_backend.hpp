#pragma once

#include "messages/sys/unique_fd.hpp"
#include "vmm/agent_process.hpp"

namespace pyro::vmm {

/// A claim sent to a parked PID 1 and not yet answered.
struct claim_ticket {
  agent_endpoint endpoint;
  std::string workspace_id;
  /// PID 1 closes its end by exec'ing the agent; what it writes first is
  /// why it could not.
  sys::unique_fd answer;

  /// Waits for PID 1: ok once the agent runs, else why it does not.
  status wait(std::chrono::milliseconds timeout) const;
};

/// Linux namespaces around the agent as PID 1: an overlay root whose upper
/// layer lives in the workspace dir, so /workspace survives stop/start.
/// Built by the `pyro-sandbox` helper; found again through runtime/pid.json.
class sandbox_backend final : public detached_agent_backend {
public:
  [[nodiscard]] std::string_view name() const override {
    return "sandbox";
  }

  [[nodiscard]] std::string_view execution_mode() const override {
    return "sandbox";
  }

  [[nodiscard]] backend_capabilities capabilities() const override;
  status prepare(const sandbox_spec& spec) override;
  [[nodiscard]] bool disk_limited(const sandbox_spec& spec) const override;
  result<agent_endpoint> boot(const sandbox_spec& spec) override;
  status stop(const sandbox_spec& spec) override;
  status destroy(const sandbox_spec& spec) override;
  result<int> publish_port(const sandbox_spec& spec, int host_port,
                           int guest_port) override;
  status unpublish_port(const sandbox_spec& spec, int id) override;

  /// Builds a sandbox for the pool in `slot`'s directory and leaves its
  /// PID 1 parked: mounts, namespaces, cgroup and agent socket ready, no
  /// hostname, not yet confined. Network policy off only. The endpoint
  /// serves one connection, from an agent started only for it (the pool
  /// takes the baseline of /workspace there), before the claim.
  result<agent_endpoint> park(const sandbox_spec& slot);

  /// Finishes a parked sandbox whose directory has been moved to
  /// `spec.workspace_dir`: PID 1 is told the workspace id and, while the
  /// caller goes on, sets it as hostname, confines itself and execs the
  /// agent; the ticket's wait() says how that went. On error the sandbox is
  /// left to the caller to destroy.
  result<claim_ticket> claim(const sandbox_spec& spec);

private:
  /// Runs the helper; returns once PID 1 is parked or exec'ing the agent.
  status launch(const sandbox_spec& spec, bool park);
};

} // namespace pyro::vmm
