#pragma once

// Egress for a sandbox without touching the host's firewall: slirp4netns
// runs on the host, joins the sandbox's network namespace, gives it eth0
// (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) and carries its traffic
// through ordinary host sockets. The host's own addresses and the link
// stay out of reach unless the operator allows them (egress_guard.hpp).
// Published ports are slirp4netns port forwards bound to 127.0.0.1.

#include <filesystem>
#include <string>

#include <sys/types.h>

#include "messages/error.hpp"

namespace pyro::vmm {

/// The descriptors that tie slirp4netns to one sandbox: it starts once it
/// learns the sandbox's pid, says when eth0 is up, and exits when the last
/// sandbox process closes `exit_write`.
struct slirp_link {
  /// slirp4netns's guard, whose child it is (slirp4netns itself when the
  /// operator allows every destination and no guard is needed).
  pid_t pid = -1;
  int pid_write = -1;
  int exit_write = -1;
  int ready_read = -1;
};

/// Forks slirp4netns' starter while the launcher is still in the host's
/// pid namespace (so slirp4netns never shows inside the sandbox). Returns
/// the link or an error message.
result<slirp_link> fork_slirp(const std::filesystem::path& binary,
                              const std::filesystem::path& api_socket,
                              const std::filesystem::path& log_file);

/// Hands slirp4netns the sandbox's pid and waits until eth0 is configured.
status start_slirp(slirp_link& link, pid_t sandbox_pid);

/// Forwards 127.0.0.1:host_port on the host to guest_port in the sandbox;
/// returns the forward's id.
result<int> slirp_add_forward(const std::filesystem::path& api_socket,
                              int host_port, int guest_port);

status slirp_remove_forward(const std::filesystem::path& api_socket, int id);

/// slirp4netns from PYRO_SLIRP4NETNS or PATH, when this process can use
/// it: unprivileged, it also needs read-write access to /dev/net/tun.
result<std::filesystem::path> find_slirp4netns();

} // namespace pyro::vmm
