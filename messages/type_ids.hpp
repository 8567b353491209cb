#pragma once

// The vocabulary of the actor runtime: every atom, message type and actor
// handle that travels between actors, in one CAF type-ID block.

#include <string>
#include <vector>

#include "caf/all.hpp"

#include "messages/caf_error.hpp"
#include "messages/workspace_record.hpp"
#include "messages/workspace_requests.hpp"
#include "messages/workspace_results.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(pyro, first_custom_type_id)

// 0.17: atom text is at most 10 characters of [0-9A-Za-z_].
CAF_ADD_ATOM(pyro, pyro, status_atom, "status")
CAF_ADD_ATOM(pyro, pyro, list_atom, "list")
CAF_ADD_ATOM(pyro, pyro, remove_atom, "remove")
CAF_ADD_ATOM(pyro, pyro, lookup_atom, "lookup")
CAF_ADD_ATOM(pyro, pyro, failures_atom, "failures")
CAF_ADD_ATOM(pyro, pyro, update_atom, "update")
CAF_ADD_ATOM(pyro, pyro, create_atom, "create")
CAF_ADD_ATOM(pyro, pyro, exec_atom, "exec")
CAF_ADD_ATOM(pyro, pyro, sync_atom, "sync")
CAF_ADD_ATOM(pyro, pyro, export_atom, "export")
CAF_ADD_ATOM(pyro, pyro, diff_atom, "diff")
CAF_ADD_ATOM(pyro, pyro, files_atom, "files")
CAF_ADD_ATOM(pyro, pyro, read_atom, "read")
CAF_ADD_ATOM(pyro, pyro, write_atom, "write")
CAF_ADD_ATOM(pyro, pyro, patch_atom, "patch")
CAF_ADD_ATOM(pyro, pyro, logs_atom, "logs")
CAF_ADD_ATOM(pyro, pyro, stop_atom, "stop")
CAF_ADD_ATOM(pyro, pyro, start_atom, "start")
CAF_ADD_ATOM(pyro, pyro, snap_add_atom, "snap_add")
CAF_ADD_ATOM(pyro, pyro, snap_list_atom, "snap_list")
CAF_ADD_ATOM(pyro, pyro, snap_del_atom, "snap_del")
CAF_ADD_ATOM(pyro, pyro, reset_atom, "reset")
CAF_ADD_ATOM(pyro, pyro, guest_atom, "guest")
CAF_ADD_ATOM(pyro, pyro, refill_atom, "refill")

CAF_ADD_TYPE_ID(pyro, (pyro::error_code))
CAF_ADD_TYPE_ID(pyro, (pyro::workspace_seed))
CAF_ADD_TYPE_ID(pyro, (pyro::secret_ref))
CAF_ADD_TYPE_ID(pyro, (pyro::workspace_record))
CAF_ADD_TYPE_ID(pyro, (pyro::workspace_entry))
CAF_ADD_TYPE_ID(pyro, (std::vector<pyro::workspace_entry>))
CAF_ADD_TYPE_ID(pyro, (pyro::workspace_update))
CAF_ADD_TYPE_ID(pyro, (pyro::create_request))
CAF_ADD_TYPE_ID(pyro, (pyro::exec_request))
CAF_ADD_TYPE_ID(pyro, (pyro::exec_result))
CAF_ADD_TYPE_ID(pyro, (pyro::progress_sink))
CAF_ADD_TYPE_ID(pyro, (pyro::sync_result))
CAF_ADD_TYPE_ID(pyro, (pyro::export_result))
CAF_ADD_TYPE_ID(pyro, (pyro::workspace_diff))
CAF_ADD_TYPE_ID(pyro, (std::vector<pyro::file_info>))
CAF_ADD_TYPE_ID(pyro, (pyro::file_read_result))
CAF_ADD_TYPE_ID(pyro, (pyro::patch_result))
CAF_ADD_TYPE_ID(pyro, (std::vector<pyro::journal_entry>))
CAF_ADD_TYPE_ID(pyro, (pyro::snapshot_info))
CAF_ADD_TYPE_ID(pyro, (std::vector<pyro::snapshot_info>))

// Handles that travel in messages need IDs too; the aliases need the atoms.
namespace pyro {

/// One workspace; its mailbox serialises what is done to it.
using workspace_actor = caf::typed_actor<
  caf::replies_to<status_atom>::with<workspace_record>,
  caf::replies_to<update_atom, workspace_update>::with<workspace_record>,
  caf::replies_to<remove_atom>::with<bool>,
  caf::replies_to<create_atom, create_request,
                  progress_sink>::with<workspace_record>,
  caf::replies_to<exec_atom, exec_request>::with<exec_result>,
  caf::replies_to<sync_atom, std::string, std::string>::with<sync_result>,
  caf::replies_to<export_atom, std::string, std::string,
                  bool>::with<export_result>,
  caf::replies_to<diff_atom>::with<workspace_diff>,
  caf::replies_to<files_atom, std::string, bool>::with<std::vector<file_info>>,
  caf::replies_to<read_atom, std::string, uint64_t>::with<file_read_result>,
  caf::replies_to<write_atom, std::string, std::string>::with<bool>,
  caf::replies_to<patch_atom, std::string>::with<patch_result>,
  caf::replies_to<logs_atom>::with<std::vector<journal_entry>>,
  caf::replies_to<stop_atom>::with<workspace_record>,
  caf::replies_to<start_atom>::with<workspace_record>,
  caf::replies_to<snap_add_atom, std::string>::with<snapshot_info>,
  caf::replies_to<snap_list_atom>::with<std::vector<snapshot_info>>,
  caf::replies_to<snap_del_atom, std::string>::with<bool>,
  caf::replies_to<reset_atom, std::string>::with<workspace_record>>;

/// A one-shot worker for a guest call, so that a shell read waiting for
/// idle output never holds up the workspace's mailbox.
using guest_worker_actor = caf::typed_actor<
  caf::replies_to<guest_atom, std::string, std::string>::with<std::string>>;

} // namespace pyro

CAF_ADD_TYPE_ID(pyro, (pyro::workspace_actor))

CAF_END_TYPE_ID_BLOCK(pyro)

namespace pyro {

/// The supervisor: finds or rehydrates workspace actors by id.
using registry_actor = caf::typed_actor<
  caf::replies_to<lookup_atom, std::string>::with<workspace_actor>,
  caf::replies_to<list_atom>::with<std::vector<workspace_entry>>,
  caf::replies_to<failures_atom, std::string>::with<int32_t>,
  caf::replies_to<create_atom, create_request,
                  progress_sink>::with<workspace_record>,
  // Shells, services, exec_cancel: workspace id, operation and JSON
  // arguments in, the JSON reply out (actors/guest_calls.hpp).
  caf::replies_to<guest_atom, std::string, std::string,
                  std::string>::with<std::string>>;

/// Keeps parked sandboxes ready: environment, vCPUs and MiB of the shape
/// that was just created (actors/sandbox_pool.hpp).
using pool_actor = caf::typed_actor<
  caf::reacts_to<refill_atom, std::string, int32_t, int32_t, int32_t>>;

/// Registers the block with a config; every actor system in pyro calls this.
void add_message_types(caf::actor_system_config& cfg);

} // namespace pyro
