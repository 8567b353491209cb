#pragma once

// The host side of Firecracker's hybrid vsock. Firecracker has no host
// AF_VSOCK: it listens on one Unix socket for the whole guest, and a host
// program picks the guest port by writing `CONNECT <port>\n` first. When a
// guest program accepts, Firecracker answers `OK <host port>\n`; when none
// listens, it closes the connection. After the OK line the socket is a plain
// byte stream to the guest.

#include <chrono>
#include <cstdint>
#include <string>

#include "messages/error.hpp"

namespace pyro::wire {

/// Asks for guest `port` on a connected Unix stream socket and waits at most
/// `timeout` for the acknowledgement; returns the host-side port Firecracker
/// assigned. Reads nothing past the OK line, so the caller's protocol starts
/// on a clean stream. `unavailable` when the connection closes first (no
/// guest program listens on that port yet), `deadline_exceeded` on timeout,
/// `internal` for any other reply.
result<uint32_t> vsock_handshake(int fd, uint32_t port,
                                 std::chrono::milliseconds timeout);

/// Connects to the Unix socket `uds_path` and performs the handshake; the
/// returned descriptor (close-on-exec) belongs to the caller. Errors name
/// the socket and the port.
result<int> vsock_connect(const std::string& uds_path, uint32_t port,
                          std::chrono::milliseconds timeout);

} // namespace pyro::wire
