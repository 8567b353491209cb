#pragma once

#include "vmm/agent_process.hpp"
#include "vmm/backend.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace pyro::vmm {

/// A workspace is a QEMU microvm guest (docs/backends.md, "QEMU"): the
/// environment's kernel, initramfs and root image, a per-workspace qcow2
/// overlay as its disk (so /workspace survives stop and start), and the
/// agent over virtio-serial through the pyro-vm supervisor's relay socket,
/// which sits where every detached backend keeps its agent socket.
class qemu_backend final : public detached_agent_backend {
public:
  /// `accel` is kvm or tcg; empty lets a KVM boot probe decide (a KVM
  /// that cannot boot stock kernels is worse than none: emulate then).
  explicit qemu_backend(std::string accel = {}) : accel_(std::move(accel)) {
    // nop
  }

  [[nodiscard]] std::string_view name() const override {
    return "qemu";
  }

  [[nodiscard]] std::string_view execution_mode() const override {
    return "guest_serial";
  }

  [[nodiscard]] backend_capabilities capabilities() const override {
    return {true, true, true, false};
  }

  status prepare(const sandbox_spec& spec) override;
  result<agent_endpoint> boot(const sandbox_spec& spec) override;
  status stop(const sandbox_spec& spec) override;
  status destroy(const sandbox_spec& spec) override;

private:
  [[nodiscard]] qemu_settings settings_for(const sandbox_spec& spec) const;
  result<agent_endpoint> boot_guest(const sandbox_spec& spec,
                                    const qemu_settings& settings);

  std::string accel_;
};

/// The per-workspace disk of a VM workspace (a qcow2 overlay).
std::filesystem::path vm_disk_path(const sandbox_spec& spec);

} // namespace pyro::vmm
