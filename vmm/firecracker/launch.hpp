#pragma once

// How one Firecracker VM is started: the command line, where its sockets
// appear on the host, and the paths Firecracker is given, which differ when
// the jailer chroots it.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"
#include "vmm/firecracker/request_plan.hpp"

namespace pyro::vmm::firecracker {

/// Host paths of one VM's sockets, kept in runtime/firecracker.json so that
/// any later pyro process finds them.
struct vm_sockets {
  std::filesystem::path api;
  std::filesystem::path vsock;
  /// The jailer's chroot base dir, removed with the VM; empty without one.
  std::filesystem::path jail;
};

nlohmann::json to_json(const vm_sockets& sockets);

/// Sockets read back from runtime/firecracker.json; empty paths if the file
/// says nothing usable.
vm_sockets sockets_from_json(const nlohmann::json& j);

/// The files a guest boots from, as host paths.
struct guest_image {
  std::filesystem::path kernel;
  /// Empty: no initrd.
  std::filesystem::path initrd;
  /// The workspace's own disk copy.
  std::filesystem::path disk;
};

struct launch {
  std::vector<std::string> argv;
  vm_sockets sockets;
  /// Paths filled in; vCPUs, memory and boot args are the caller's.
  boot_description vm;
};

/// Firecracker run directly: it sees host paths, its sockets live in
/// `runtime_dir`.
launch direct_launch(const std::filesystem::path& firecracker,
                     const std::filesystem::path& runtime_dir,
                     const guest_image& image);

/// Firecracker run by `jailer` with id `id`, its jail under
/// `runtime_dir`/jail and the invoking user's uid and gid. Links the image
/// into the jail's root first: hard links (so the guest writes the
/// workspace's disk itself), a copy for a kernel or initrd on another file
/// system.
result<launch> jailed_launch(const std::filesystem::path& jailer,
                             const std::filesystem::path& firecracker,
                             std::string_view id,
                             const std::filesystem::path& runtime_dir,
                             const guest_image& image);

} // namespace pyro::vmm::firecracker
