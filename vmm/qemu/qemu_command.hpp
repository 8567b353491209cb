#pragma once

// The QEMU command line for one guest: a microvm machine (no PCI, no
// firmware: the kernel boots directly through its PVH note), the root disk
// on virtio-blk, the agent channel on a virtio-serial port and QMP for
// control, all as Unix sockets in the workspace's runtime dir.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// The name the agent finds its virtio-serial port by.
constexpr const char* agent_port_name = "org.pyro.agent";

struct qemu_settings {
  std::string binary = "qemu-system-x86_64";
  /// kvm or tcg.
  std::string accel = "tcg";
  int vcpu_count = 1;
  int mem_mib = 1024;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::filesystem::path disk;
  /// raw or qcow2.
  std::string disk_format = "qcow2";
  std::string hostname;
  /// The host's TSC rate: without it the kernel's calibration against the
  /// emulated PIT fails on many boots under TCG.
  long tsc_khz = 0;
  std::filesystem::path agent_socket;
  std::filesystem::path qmp_socket;
  std::filesystem::path console_log;
  /// A memory snapshot to resume from instead of booting (warm start).
  std::filesystem::path incoming;
};

/// What every boot's kernel command line starts with: the serial console,
/// panic=-1 and the TSC rate.
std::string base_command_line(const qemu_settings& s);

/// A pyro guest's: the base plus root disk, agent channel and hostname.
std::string kernel_command_line(const qemu_settings& s);

/// The machine, memory, CPUs, kernel, initrd and console (`serial` is
/// QEMU's -serial value), booting with `command_line`: what a guest, the
/// accelerator probe and the boot benchmark's floor share.
std::vector<std::string> qemu_machine_argv(const qemu_settings& s,
                                           const std::string& serial,
                                           const std::string& command_line);

/// A pyro guest: the machine plus root disk, agent port and QMP.
std::vector<std::string> qemu_argv(const qemu_settings& s);

/// The host's TSC rate in kHz, from /proc/cpuinfo's "cpu MHz"; 0 if unknown.
long host_tsc_khz();

/// What the supervisor (pyro-vm) needs to run one guest.
struct vm_launch {
  std::vector<std::string> qemu_argv;
  std::filesystem::path agent_socket;
  /// Where host processes connect; each connection becomes a channel.
  std::filesystem::path relay_socket;
  std::filesystem::path pid_file;
};

nlohmann::json to_json(const vm_launch& launch);
result<vm_launch> vm_launch_from_json(const nlohmann::json& j);

} // namespace pyro::vmm
