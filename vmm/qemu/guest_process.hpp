#pragma once

// Starting one QEMU guest under its pyro-vm supervisor and waiting for its
// agent: shared by workspaces and by the template guest a warm snapshot is
// taken from.

#include <chrono>
#include <filesystem>
#include <string>

#include "messages/error.hpp"
#include "vmm/process_identity.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace pyro::vmm {

/// Where a guest's runtime files live; `settings` gets its sockets and
/// console log from here.
struct guest_runtime {
  std::filesystem::path dir;
  std::filesystem::path relay_socket;
  std::filesystem::path pid_file;

  void fill(qemu_settings& settings) const;
  [[nodiscard]] std::filesystem::path qmp_socket() const {
    return dir / "qmp.sock";
  }
  /// Removes sockets and the pid file (not the logs).
  void clear() const;
  /// The last bytes of the console and supervisor logs, for errors.
  [[nodiscard]] std::string log_tail() const;
};

/// Spawns pyro-vm (detached) for `settings`; returns the supervisor.
result<process_identity> launch_guest(const qemu_settings& settings,
                                      const guest_runtime& runtime);

/// Waits until the agent answers `hello` through the relay socket, or the
/// supervisor dies, or `deadline` passes; the error says which.
status wait_for_agent(const process_identity& supervisor,
                      const guest_runtime& runtime,
                      std::chrono::steady_clock::time_point deadline);

/// The boot timeout: PYRO_VM_BOOT_TIMEOUT_SECONDS, default 60 s.
std::chrono::milliseconds vm_boot_timeout();

} // namespace pyro::vmm
