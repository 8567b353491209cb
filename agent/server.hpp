#pragma once

#include <string>

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

/// Listens on a Unix socket and serves every connection on its own thread
/// (connections are few and mostly idle; a thread each keeps a slow
/// client from ever holding up another). Returns only on a fatal error.
status serve(const agent_context& ctx, const std::string& socket_path);

/// Serves one connected client until it hangs up or sends garbage.
void serve_connection(const agent_context& ctx, int fd);

} // namespace pyro::agent
