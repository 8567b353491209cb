#pragma once

// PTY shells: an interactive process on a pseudo-terminal whose output
// lands in an append-only buffer read by cursor. Shells live in the agent,
// not in a connection, so they outlive the client that opened them.

#include <nlohmann/json.hpp>

#include "agent/agent_context.hpp"
#include "agent/connection.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

status op_shell_open(const agent_context&, const nlohmann::json&, connection&);
status op_shell_write(const agent_context&, const nlohmann::json&, connection&);
status op_shell_read(const agent_context&, const nlohmann::json&, connection&);
status op_shell_resize(const agent_context&, const nlohmann::json&,
                       connection&);
status op_shell_signal(const agent_context&, const nlohmann::json&,
                       connection&);
status op_shell_close(const agent_context&, const nlohmann::json&, connection&);
status op_shell_list(const agent_context&, const nlohmann::json&, connection&);

/// SIGHUP, SIGINT, SIGTERM or SIGKILL from "HUP", "SIGINT", ...; 0 if none.
int signal_from_name(const std::string& name);

} // namespace pyro::agent
