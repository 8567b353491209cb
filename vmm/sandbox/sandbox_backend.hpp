#pragma once

#include "vmm/agent_process.hpp"

namespace pyro::vmm {

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
  result<agent_endpoint> boot(const sandbox_spec& spec) override;
  status stop(const sandbox_spec& spec) override;
  status destroy(const sandbox_spec& spec) override;
  result<int> publish_port(const sandbox_spec& spec, int host_port,
                           int guest_port) override;
  status unpublish_port(const sandbox_spec& spec, int id) override;

  /// Builds a sandbox for the pool in `slot`'s directory and leaves its
  /// PID 1 parked: mounts, namespaces, cgroup and agent socket ready, no
  /// hostname, not yet confined, agent not started. Network policy off only.
  status park(const sandbox_spec& slot);

  /// Finishes a parked sandbox whose directory has been moved to
  /// `spec.workspace_dir`: its hostname becomes the workspace id, it is
  /// confined and its agent started. On error the sandbox is left to the
  /// caller to destroy.
  result<agent_endpoint> claim(const sandbox_spec& spec);

private:
  /// Runs the helper; returns once PID 1 is parked or exec'ing the agent.
  status launch(const sandbox_spec& spec, bool park);
};

} // namespace pyro::vmm
