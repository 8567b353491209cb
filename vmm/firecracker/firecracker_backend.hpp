#pragma once

#include <memory>

#include "vmm/backend.hpp"

namespace pyro::vmm {

/// A KVM microVM per workspace, run by Firecracker. The guest boots the
/// environment's kernel, initrd and a per-workspace copy of its ext4 disk
/// (so /workspace survives stop/start, and the environment never changes);
/// the agent inside is init and listens on vsock port 1024, which the host
/// reaches through Firecracker's hybrid vsock socket. Like the other
/// backends it keeps no state in memory: the runtime dir holds the pid and
/// where the sockets are.
class firecracker_backend final : public backend {
public:
  [[nodiscard]] std::string_view name() const override {
    return "firecracker";
  }

  [[nodiscard]] std::string_view execution_mode() const override {
    return "guest_vsock";
  }

  [[nodiscard]] backend_capabilities capabilities() const override;

  /// Copies the environment's vm/rootfs.ext4 to <workspace>/vm/rootfs.ext4
  /// (reflink or sparse), once.
  status prepare(const sandbox_spec& spec) override;

  /// Starts Firecracker detached (under the jailer when there is one),
  /// configures and starts the VM through its API, and returns once the
  /// agent answers `hello` over vsock, within PYRO_VM_BOOT_TIMEOUT_SECONDS
  /// (default 60). On failure nothing is left running.
  result<agent_endpoint> boot(const sandbox_spec& spec) override;

  result<agent_endpoint> endpoint(const sandbox_spec& spec) override;
  [[nodiscard]] bool running(const sandbox_spec& spec) override;

  /// Asks the agent to shut the guest down, gives the VM 10 s to exit, then
  /// terminates Firecracker.
  status stop(const sandbox_spec& spec) override;

  /// Stops the VM and removes <workspace>/vm and the runtime dir.
  status destroy(const sandbox_spec& spec) override;
};

/// What backend_by_name("firecracker") returns.
std::unique_ptr<backend> make_firecracker_backend();

} // namespace pyro::vmm
