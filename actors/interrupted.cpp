#include "actors/interrupted.hpp"

#include "actors/teardown.hpp"
#include "actors/workspace_lifecycle.hpp"
#include "messages/sys/owned_temp.hpp"

namespace pyro {

namespace fs = std::filesystem;

namespace {

// Undoes what a killed create made: the sandbox (processes, mounts, layers)
// and the scratch files go; the record stays, saying why, until delete.
status roll_back_create(const state_store& store, workspace_record& record) {
  auto backend = backend_of(record);
  if (backend)
    if (auto destroyed = (*backend)->destroy(sandbox_spec_for(store, record));
        !destroyed)
      return destroyed;
  std::error_code ec;
  fs::remove_all(store.workspace_dir(record.workspace_id) / "tmp", ec);
  record.state = "failed";
  record.reason = "its create was interrupted before it finished (the "
                  "process creating it was killed); what it had made was "
                  "rolled back";
  return store.save(record);
}

} // namespace

result<locked_record> lock_settled(const state_store& store,
                                   const std::string& id,
                                   std::chrono::milliseconds timeout) {
  auto locked = store.lock_and_load(id, timeout);
  if (!locked)
    return locked.err();
  sys::remove_dead_temps(store.workspace_dir(id) / "snapshots",
                         partial_prefix);
  auto& record = locked->record;
  if (record.state == "creating") {
    if (auto rolled = roll_back_create(store, record); !rolled)
      return rolled.err();
  } else if (record.state == "resetting") {
    auto from = record.reset_from.empty() ? std::string{"baseline"}
                                          : record.reset_from;
    if (auto finished = reset_locked(store, *locked, from); !finished)
      return finished.err();
  }
  return locked;
}

error failed_workspace_error(const workspace_record& record) {
  return make_error(error_code::failed_precondition,
                    "workspace '" + record.workspace_id
                      + "' failed: " + record.reason,
                    "`pyro workspace delete " + record.workspace_id
                      + "` removes it; create a new one");
}

} // namespace pyro
