#pragma once

// Services: named long-running processes with a readiness probe. Their logs
// and metadata live under /run/pyro-services/<name>/, never in /workspace,
// so they never show in a diff or an export.

#include <nlohmann/json.hpp>

#include "agent/agent_context.hpp"
#include "agent/connection.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

status op_service_start(const agent_context&, const nlohmann::json&,
                        connection&);
status op_service_status(const agent_context&, const nlohmann::json&,
                         connection&);
status op_service_list(const agent_context&, const nlohmann::json&,
                       connection&);
status op_service_logs(const agent_context&, const nlohmann::json&,
                       connection&);
status op_service_stop(const agent_context&, const nlohmann::json&,
                       connection&);
/// Waits until a service's process has ended, or `timeout_seconds` (at
/// most 600) passed: the host closes a service's published ports when it
/// exits by itself. With `pid`, a service by that name with another pid
/// counts as ended (the one asked about is gone).
status op_service_wait(const agent_context&, const nlohmann::json&,
                       connection&);

} // namespace pyro::agent
