#pragma once

#include <string>

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

/// Listens on `address` and serves every connection on its own thread
/// (connections are few and mostly idle; a thread each keeps a slow client
/// from ever holding up another). Addresses: unix:PATH, vsock:PORT (a VM
/// with virtio-vsock), vport:NAME (a virtio-serial port carrying channels,
/// messages/wire/mux.hpp). Returns only on a fatal error, or with `once`
/// (unix and fd addresses) when its first connection is over.
status serve(const agent_context& ctx, const std::string& address,
             bool once = false);

/// Serves one connected client until it hangs up or sends garbage.
void serve_connection(const agent_context& ctx, int fd);

} // namespace pyro::agent
