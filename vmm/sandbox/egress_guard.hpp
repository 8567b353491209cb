#pragma once

// slirp4netns turns a sandbox's packets into sockets of the host, opened
// in the host's network namespace: left alone, egress would reach every
// service of the host that listens on a non-loopback address, and the
// cloud metadata service on the link. Firewall rules would touch the host
// and need privileges; slirp4netns's own --disable-host-loopback covers
// only 127.0.0.0/8. So slirp4netns runs under a seccomp filter that hands
// every system call choosing a destination (connect, sendto with an
// address, sendmsg) to its parent, the guard, through a user notification
// (SECCOMP_RET_USER_NOTIF; unprivileged, with no_new_privs). The guard
// reads the call's arguments from slirp4netns's memory, judges each
// destination by egress_policy at the moment of the call, and then makes
// the call itself on a duplicate of slirp4netns's socket (pidfd_getfd),
// with its own copy of the arguments, answering with that call's result.
// Nothing slirp4netns changes in its memory after the check can redirect
// the call, which SECCOMP_USER_NOTIF_FLAG_CONTINUE could not promise: the
// kernel would re-read the address after the guard looked at it. That
// only matters if code running in slirp4netns turns hostile (a memory
// corruption bug in libslirp driven by the sandbox's packets), and then
// it matters a lot, so the guard never continues a call. What could
// choose a destination some other way is refused outright (slirp4netns
// uses none of it): sendmmsg, io_uring, the socket options that set IP
// source routes, and raw, packet, SCTP and MPTCP sockets.

#include <string>
#include <vector>

#include "vmm/sandbox/egress_policy.hpp"

namespace pyro::vmm {

/// Runs `argv` under the filter and makes this process its guard until it
/// exits, then exits with its status. The program is killed if the guard
/// dies, and every guarded call fails with ENOSYS once nobody listens, so
/// egress fails closed. Call in a fresh, single-threaded child with its
/// stdout and stderr already on the log; it never returns.
[[noreturn]] void exec_guarded(const std::vector<std::string>& argv,
                               const egress_policy& policy);

} // namespace pyro::vmm
