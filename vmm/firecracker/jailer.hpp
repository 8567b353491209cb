#pragma once

// Firecracker's jailer (docs/jailer.md in Firecracker's sources) starts
// Firecracker chrooted in `<chroot base>/<exec file name>/<id>/root`, in new
// mount namespace, with its own cgroup and as an unprivileged uid/gid. Every
// path Firecracker is given (API socket, kernel, disks, vsock socket) is then
// a path inside that directory, so the files must be placed there first.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "messages/error.hpp"

namespace pyro::vmm::firecracker {

struct jailer_options {
  std::filesystem::path jailer_binary;
  /// The firecracker binary the jailer copies into the jail and execs.
  std::filesystem::path exec_file;
  /// Unique per VM: letters, digits and hyphens, at most 64.
  std::string id;
  uid_t uid = 0;
  gid_t gid = 0;
  std::filesystem::path chroot_base;
  /// 1 or 2: the cgroup hierarchy the jailer uses.
  int cgroup_version = 2;
  /// The API socket as Firecracker sees it inside the jail.
  std::string api_socket = "/firecracker.sock";
};

/// The jailer's command line: its own flags, then `--` and Firecracker's
/// (the jailer adds `--id` for Firecracker itself).
[[nodiscard]] std::vector<std::string>
jailer_argv(const jailer_options& options);

/// The directory that becomes Firecracker's `/`.
[[nodiscard]] std::filesystem::path chroot_dir(const jailer_options& options);

/// `id` if the jailer accepts it as a VM id, else `invalid_argument`.
result<std::string> jail_id(std::string_view id);

/// The jailer to use: `jailer` on PATH unless PYRO_FIRECRACKER_JAILER is
/// "0"; none otherwise.
[[nodiscard]] std::optional<std::filesystem::path> find_jailer();

/// 2 when /sys/fs/cgroup is the unified hierarchy, else 1.
[[nodiscard]] int host_cgroup_version();

} // namespace pyro::vmm::firecracker
