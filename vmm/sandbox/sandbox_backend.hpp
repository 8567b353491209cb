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
};

} // namespace pyro::vmm
