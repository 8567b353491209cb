#pragma once

// Shells and services: agent operations that the workspace passes through,
// with the host's share of the work done here: `--secret-env` resolved
// against the workspace's secrets, input newlines, plain rendering of shell
// output, redaction of secret values from everything that comes back, and
// last-activity bumps for the calls that change something.

#include <string>

#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"

namespace pyro {

/// `op` is the contract's tool name (shell_open, shell_read, shell_write,
/// shell_signal, shell_close, service_start, service_list, service_status,
/// service_logs, service_stop); `args` its parameters without workspace_id.
result<nlohmann::json> guest_call(const state_store& store,
                                  const std::string& id, const std::string& op,
                                  nlohmann::json args);

/// Fills `record.service_counts` from the agent when the workspace runs.
void fill_service_counts(const state_store& store, workspace_record& record);

} // namespace pyro
