#pragma once

#include "vmm/agent_process.hpp"

namespace pyro::vmm {

/// host-compat: no isolation. The agent runs as an ordinary host process
/// whose guest "/" is a directory in the workspace dir; the agent confines
/// every path to it. Only used when the caller passes allow_host_compat.
class host_backend final : public detached_agent_backend {
public:
  [[nodiscard]] std::string_view name() const override {
    return "host";
  }

  [[nodiscard]] std::string_view execution_mode() const override {
    return "host_compat";
  }

  [[nodiscard]] backend_capabilities capabilities() const override {
    return {false, false, false, true};
  }

  status prepare(const sandbox_spec& spec) override;
  result<agent_endpoint> boot(const sandbox_spec& spec) override;
  status stop(const sandbox_spec& spec) override;
  status destroy(const sandbox_spec& spec) override;
};

} // namespace pyro::vmm
