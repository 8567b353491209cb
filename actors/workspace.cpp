#include "actors/workspace.hpp"

#include "actors/guest_calls.hpp"
#include "actors/teardown.hpp"
#include "actors/workspace_data.hpp"
#include "actors/workspace_lifecycle.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/clock.hpp"

namespace pyro {

namespace {

// A blocking operation's outcome as an actor reply.
template <class T>
caf::result<T> reply(result<T>&& r) {
  if (!r)
    return to_caf(r.err());
  return std::move(*r);
}

// Frees the record versions a save superseded (state_store::save), on a
// thread of its own: after a create, an exec or a read the record is new or
// untouched, so only the lifecycle requests that replace it call this.
template <class T>
caf::result<T>
reply_and_tidy(workspace_actor::stateful_pointer<workspace_state> self,
               result<T>&& r) {
  self->spawn<caf::detached>(
    [store = self->state.store, id = self->state.id] { store->tidy(id); });
  return reply(std::move(r));
}

} // namespace

workspace_actor::behavior_type
workspace_impl(workspace_actor::stateful_pointer<workspace_state> self,
               std::string id, std::shared_ptr<const state_store> store) {
  self->state.id = std::move(id);
  self->state.store = std::move(store);
  return {
    [=](status_atom) -> caf::result<workspace_record> {
      auto record = self->state.store->load(self->state.id);
      if (!record)
        return to_caf(record.err());
      fill_service_counts(*self->state.store, *record);
      return std::move(*record);
    },
    [=](update_atom,
        const workspace_update& change) -> caf::result<workspace_record> {
      const auto& st = self->state;
      if (change.set_name && change.name.size() > 128)
        return to_caf(make_error(error_code::invalid_argument,
                                 "names are at most 128 characters"));
      for (const auto& [key, value] : change.labels)
        if (auto valid = validate_label_key(key); !valid)
          return to_caf(valid.err());
      auto locked = st.store->lock_and_load(st.id);
      if (!locked)
        return to_caf(locked.err());
      auto* record = &locked->record;
      if (change.set_name)
        record->name = change.name;
      for (const auto& key : change.clear_labels)
        record->labels.erase(key);
      for (const auto& [key, value] : change.labels)
        record->labels[key] = value;
      record->last_activity_at = sys::unix_now();
      if (auto saved = st.store->save(*record); !saved)
        return to_caf(saved.err());
      return reply_and_tidy(self, result<workspace_record>{*record});
    },
    [=](create_atom, const create_request& request,
        const progress_sink& progress) -> caf::result<workspace_record> {
      const auto& st = self->state;
      auto record
        = create_workspace_now(*st.store, st.id, request, progress.emit);
      if (!record) {
        self->quit(); // nothing exists for this id any more
        return to_caf(record.err());
      }
      return std::move(*record);
    },
    [=](exec_atom, const exec_request& request) -> caf::result<exec_result> {
      return reply(
        exec_in_workspace(*self->state.store, self->state.id, request));
    },
    [=](sync_atom, const std::string& source,
        const std::string& dest) -> caf::result<sync_result> {
      return reply(sync_push(*self->state.store, self->state.id, source, dest));
    },
    [=](export_atom, const std::string& path, const std::string& output,
        bool overwrite) -> caf::result<export_result> {
      return reply(export_path(*self->state.store, self->state.id, path, output,
                               overwrite));
    },
    [=](diff_atom) -> caf::result<workspace_diff> {
      return reply(diff_against_baseline(*self->state.store, self->state.id));
    },
    [=](files_atom, const std::string& path,
        bool recursive) -> caf::result<std::vector<file_info>> {
      return reply(
        list_files(*self->state.store, self->state.id, path, recursive));
    },
    [=](read_atom, const std::string& path,
        uint64_t max_bytes) -> caf::result<file_read_result> {
      return reply(
        read_file(*self->state.store, self->state.id, path, max_bytes));
    },
    [=](write_atom, const std::string& path,
        const std::string& text) -> caf::result<bool> {
      if (auto written
          = write_file(*self->state.store, self->state.id, path, text);
          !written)
        return to_caf(written.err());
      return true;
    },
    [=](patch_atom, const std::string& patch) -> caf::result<patch_result> {
      return reply(apply_patch(*self->state.store, self->state.id, patch));
    },
    [=](logs_atom) -> caf::result<std::vector<journal_entry>> {
      return reply(read_journal(*self->state.store, self->state.id));
    },
    [=](stop_atom) -> caf::result<workspace_record> {
      return reply_and_tidy(
        self, stop_workspace_now(*self->state.store, self->state.id));
    },
    [=](start_atom) -> caf::result<workspace_record> {
      return reply_and_tidy(
        self, start_workspace_now(*self->state.store, self->state.id));
    },
    [=](snap_add_atom, const std::string& name) -> caf::result<snapshot_info> {
      return reply(
        create_snapshot_now(*self->state.store, self->state.id, name));
    },
    [=](snap_list_atom) -> caf::result<std::vector<snapshot_info>> {
      return reply(list_snapshots_now(*self->state.store, self->state.id));
    },
    [=](snap_del_atom, const std::string& name) -> caf::result<bool> {
      if (auto deleted
          = delete_snapshot_now(*self->state.store, self->state.id, name);
          !deleted)
        return to_caf(deleted.err());
      return true;
    },
    [=](reset_atom,
        const std::string& snapshot) -> caf::result<workspace_record> {
      return reply_and_tidy(
        self,
        reset_workspace_now(*self->state.store, self->state.id, snapshot));
    },
    [=](remove_atom) -> caf::result<bool> {
      const auto& st = self->state;
      auto lock = st.store->lock(st.id);
      if (!lock)
        return to_caf(lock.err());
      if (auto removed = destroy_workspace(*st.store, st.id); !removed)
        return to_caf(removed.err());
      // Nothing is left to own; the registry forgets us on the down message.
      self->quit();
      return true;
    },
  };
}

} // namespace pyro
