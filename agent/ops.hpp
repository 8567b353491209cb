#pragma once

// One handler per operation of docs/protocol.md. A handler replies through
// the connection; an error it returns is sent as an error reply.

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/agent_context.hpp"
#include "agent/connection.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

using handler
  = status (*)(const agent_context&, const nlohmann::json&, connection&);

status op_hello(const agent_context&, const nlohmann::json&, connection&);
status op_exec(const agent_context&, const nlohmann::json&, connection&);
status op_exec_cancel(const agent_context&, const nlohmann::json&, connection&);
status op_stat(const agent_context&, const nlohmann::json&, connection&);
status op_list(const agent_context&, const nlohmann::json&, connection&);
status op_read(const agent_context&, const nlohmann::json&, connection&);
status op_write(const agent_context&, const nlohmann::json&, connection&);
status op_delete(const agent_context&, const nlohmann::json&, connection&);
status op_manifest(const agent_context&, const nlohmann::json&, connection&);
status op_import(const agent_context&, const nlohmann::json&, connection&);
status op_export(const agent_context&, const nlohmann::json&, connection&);
status op_shutdown(const agent_context&, const nlohmann::json&, connection&);
status op_secrets_put(const agent_context&, const nlohmann::json&, connection&);
status op_configure(const agent_context&, const nlohmann::json&, connection&);

/// Removes the staging directories of imports that a killed agent left
/// beside /workspace; called once at start, before any import runs.
void remove_import_remains(int root_fd);

/// Every operation by name.
const std::map<std::string, handler>& operations();

/// The handler for an op name, or nullptr.
handler find_handler(const std::string& op);

/// A required string field, or `invalid_argument` naming it.
result<std::string> string_field(const nlohmann::json& req, const char* key);

} // namespace pyro::agent
