#pragma once

// Shells and services: agent operations that the workspace passes through,
// with the host's share of the work done here: `--secret-env` resolved
// against the workspace's secrets, input newlines, plain rendering of shell
// output, redaction of secret values from everything that comes back, and
// last-activity bumps for the calls that change something.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"

namespace pyro {

/// `op` is the contract's tool name (shell_open, shell_read, shell_write,
/// shell_signal, shell_close, service_start, service_list, service_status,
/// service_logs, service_stop), or exec_cancel; `args` its parameters
/// without workspace_id.
result<nlohmann::json> guest_call(const state_store& store,
                                  const std::string& id, const std::string& op,
                                  nlohmann::json args);

/// A one-shot worker running one guest call. The registry spawns it, so a
/// shell read or an exec_cancel never waits behind a long exec in the
/// workspace actor's mailbox; the agent serves calls concurrently.
guest_worker_actor::behavior_type
guest_worker_impl(guest_worker_actor::pointer self, std::string id,
                  std::shared_ptr<const state_store> store);

/// What `status` shows of a record beyond what is stored: for a started
/// workspace, `agent_gone` when its sandbox is gone and `unresponsive` when
/// its agent does not answer `hello` within agent_answer_deadline, each
/// with a hint (the stored record is not changed); otherwise
/// `service_counts`, asked of the agent.
void show_live_state(const state_store& store, workspace_record& record);

} // namespace pyro
