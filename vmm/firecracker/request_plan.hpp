#pragma once

// What pyro asks of Firecracker, as data: the API calls that configure and
// start a microVM, take a snapshot of it or load one. Pure functions, so the
// exact requests are tested without a Firecracker binary; field names follow
// Firecracker's swagger definition (src/firecracker/swagger/firecracker.yaml).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/error.hpp"
#include "vmm/firecracker/api_client.hpp"

namespace pyro::vmm::firecracker {

/// The guest port the agent listens on inside a Firecracker VM.
constexpr int agent_vsock_port = 1024;
/// The first CID a guest may have (0-2 are reserved for the hypervisor, the
/// local loopback and the host).
constexpr int default_guest_cid = 3;

/// A TAP device on the host, configured beforehand, that becomes the guest's
/// eth0.
struct tap_interface {
  std::string host_dev_name;
  /// Empty: Firecracker picks one.
  std::string guest_mac;
};

/// One microVM as Firecracker should build it. Paths are as Firecracker
/// sees them (inside the jail when the jailer runs it).
struct boot_description {
  int vcpu_count = 1;
  int mem_mib = 1024;
  std::string kernel_path;
  /// Empty: boot without an initrd.
  std::string initrd_path;
  /// Read-write: the workspace's own copy of the environment's disk.
  std::string rootfs_path;
  std::string boot_args;
  /// Where Firecracker listens for host-initiated vsock connections.
  std::string vsock_uds_path;
  int guest_cid = default_guest_cid;
  std::optional<tap_interface> network;
};

/// The kernel command line of a pyro guest: serial console, reboot ends
/// the VM (Firecracker exits on the i8042 reset), a panic does too, no PCI
/// probing, and the agent's hostname and channel.
[[nodiscard]] std::string kernel_boot_args(std::string_view workspace_id,
                                           int agent_port = agent_vsock_port);

/// PUT /machine-config, /boot-source, /drives/rootfs, /vsock, then
/// /network-interfaces/eth0 when there is a network, then /actions
/// InstanceStart. `invalid_argument` for values Firecracker would refuse
/// (vCPUs outside 1..32, no memory, a CID below 3, a missing path).
[[nodiscard]] result<std::vector<api_request>>
boot_plan(const boot_description& vm);

/// PATCH /vm Paused, then PUT /snapshot/create of a full snapshot: the
/// microVM state to `snapshot_path`, guest memory to `mem_file_path`. The
/// VM stays paused; `resume_plan` continues it.
[[nodiscard]] std::vector<api_request>
snapshot_create_plan(const std::string& snapshot_path,
                     const std::string& mem_file_path);

/// PATCH /vm Resumed.
[[nodiscard]] std::vector<api_request> resume_plan();

/// PUT /snapshot/load on a fresh Firecracker process, memory from a file;
/// `resume_vm` starts the vCPUs at once. The disk, TAP and vsock paths the
/// snapshot was taken with must exist again.
[[nodiscard]] std::vector<api_request>
snapshot_load_plan(const std::string& snapshot_path,
                   const std::string& mem_file_path, bool resume_vm);

} // namespace pyro::vmm::firecracker
