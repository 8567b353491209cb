#include "actors/workspace.hpp"

#include "actors/interrupted.hpp"
#include "actors/guest_calls.hpp"
#include "actors/redaction.hpp"
#include "actors/teardown.hpp"
#include "actors/workspace_data.hpp"
#include "actors/workspace_lifecycle.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/clock.hpp"

namespace pyro {

namespace {

using workspace_pointer = workspace_actor::stateful_pointer<workspace_state>;

// This workspace's redactor: kept once final, reloaded until then.
result<redactor> secrets_of(workspace_state& st) {
  if (st.secrets)
    return *st.secrets;
  auto loaded = load_redactor(*st.store, st.id);
  if (!loaded)
    return loaded.err();
  if (loaded->final)
    st.secrets = loaded->values;
  return std::move(loaded->values);
}

// Every reply leaves through here, redacted: values and errors alike. A
// workspace whose secrets cannot be read answers with that error rather
// than with something it could not redact.
template <class T>
result<T> redacted(workspace_state& st, result<T>&& r) {
  auto values = secrets_of(st);
  if (!values)
    return values.err();
  if (!r) {
    auto err = r.err();
    redact(*values, err);
    return err;
  }
  redact(*values, *r);
  return std::move(r);
}

template <class T>
caf::result<T> reply(workspace_state& st, result<T>&& r) {
  auto out = redacted(st, std::move(r));
  if (!out)
    return to_caf(out.err());
  return std::move(*out);
}

// Runs `work` on a thread of its own and replies from there, so that the
// workspace keeps answering (another exec, a status, a file read) while it
// runs; what it changes is guarded by the workspace's lock on disk, as for
// calls from other processes.
template <class T, class F>
caf::result<T> reply_later(workspace_pointer self, F work) {
  auto promise = self->make_response_promise<T>();
  self->spawn<caf::detached>([promise, st = self->state, work]() mutable {
    auto out = redacted(st, work(st));
    if (out)
      promise.deliver(std::move(*out));
    else
      promise.deliver(to_caf(out.err()));
  });
  return promise;
}

caf::result<bool> reply(workspace_state& st, status s) {
  if (!s)
    return reply(st, result<bool>{s.err()});
  return reply(st, result<bool>{true});
}

// Frees the record versions a save superseded (state_store::save), on a
// thread of its own: after a create, an exec or a read the record is new or
// untouched, so only the lifecycle requests that replace it call this.
template <class T>
caf::result<T> reply_and_tidy(workspace_pointer self, result<T>&& r) {
  self->spawn<caf::detached>(
    [store = self->state.store, id = self->state.id] { store->tidy(id); });
  return reply(self->state, std::move(r));
}

// The values of a create's own secrets, before any store holds them.
redactor secrets_of(const create_request& request, const std::string& id) {
  std::map<std::string, std::string> values;
  for (const auto& s : request.secrets)
    values[s.name] = s.value;
  return redactor{std::move(values), id};
}

} // namespace

workspace_actor::behavior_type
workspace_impl(workspace_actor::stateful_pointer<workspace_state> self,
               std::string id, std::shared_ptr<const state_store> store) {
  self->state.id = std::move(id);
  self->state.store = std::move(store);
  // Every handler answers through reply() (or reply_and_tidy), which
  // redacts; a handler that returned its result directly would skip that.
  return {
    [=](status_atom) -> caf::result<workspace_record> {
      auto record = self->state.store->load(self->state.id);
      if (record)
        show_live_state(*self->state.store, *record);
      return reply(self->state, std::move(record));
    },
    [=](update_atom,
        const workspace_update& change) -> caf::result<workspace_record> {
      const auto& st = self->state;
      if (change.set_name && change.name.size() > 128)
        return reply(self->state, result<workspace_record>{make_error(
                                    error_code::invalid_argument,
                                    "names are at most 128 characters")});
      for (const auto& [key, value] : change.labels)
        if (auto valid = validate_label_key(key); !valid)
          return reply(self->state, result<workspace_record>{valid.err()});
      if (change.set_ttl && change.ttl_seconds < 0)
        return reply(self->state, result<workspace_record>{make_error(
                                    error_code::invalid_argument,
                                    "ttl_seconds must not be negative",
                                    "0 means the workspace never expires")});
      auto locked = lock_settled(*st.store, st.id);
      if (!locked)
        return reply(self->state, result<workspace_record>{locked.err()});
      auto* record = &locked->record;
      if (change.set_name)
        record->name = change.name;
      for (const auto& key : change.clear_labels)
        record->labels.erase(key);
      for (const auto& [key, value] : change.labels)
        record->labels[key] = value;
      record->last_activity_at = sys::unix_now();
      if (change.set_ttl) {
        record->ttl_seconds = change.ttl_seconds;
        record->expires_at
          = change.ttl_seconds > 0
              ? record->last_activity_at
                  + static_cast<double>(change.ttl_seconds)
              : 0;
      }
      if (auto saved = st.store->save(*record); !saved)
        return reply(self->state, result<workspace_record>{saved.err()});
      return reply_and_tidy(self, result<workspace_record>{*record});
    },
    [=](create_atom, const create_request& request,
        const progress_sink& progress) -> caf::result<workspace_record> {
      const auto& st = self->state;
      auto record
        = create_workspace_now(*st.store, st.id, request, progress.emit);
      // The request's own values: a failed create leaves no store behind.
      auto values = secrets_of(request, st.id);
      if (!record) {
        self->quit(); // nothing exists for this id any more
        auto err = record.err();
        redact(values, err);
        return to_caf(err);
      }
      redact(values, *record);
      return std::move(*record);
    },
    [=](exec_atom, const exec_request& request) -> caf::result<exec_result> {
      return reply_later<exec_result>(self, [request](workspace_state& st) {
        return exec_in_workspace(*st.store, st.id, request);
      });
    },
    [=](sync_atom, const std::string& source,
        const std::string& dest) -> caf::result<sync_result> {
      return reply(self->state,
                   sync_push(*self->state.store, self->state.id, source, dest));
    },
    [=](export_atom, const std::string& path, const std::string& output,
        bool overwrite) -> caf::result<export_result> {
      return reply(self->state, export_path(*self->state.store, self->state.id,
                                            path, output, overwrite));
    },
    [=](diff_atom) -> caf::result<workspace_diff> {
      return reply(self->state,
                   diff_against_baseline(*self->state.store, self->state.id));
    },
    [=](files_atom, const std::string& path,
        bool recursive) -> caf::result<std::vector<file_info>> {
      return reply(self->state, list_files(*self->state.store, self->state.id,
                                           path, recursive));
    },
    [=](read_atom, const std::string& path,
        uint64_t max_bytes) -> caf::result<file_read_result> {
      return reply(self->state, read_file(*self->state.store, self->state.id,
                                          path, max_bytes));
    },
    [=](write_atom, const std::string& path,
        const std::string& text) -> caf::result<bool> {
      return reply(self->state,
                   write_file(*self->state.store, self->state.id, path, text));
    },
    [=](patch_atom, const std::string& patch) -> caf::result<patch_result> {
      return reply(self->state,
                   apply_patch(*self->state.store, self->state.id, patch));
    },
    [=](logs_atom) -> caf::result<std::vector<journal_entry>> {
      return reply(self->state,
                   read_journal(*self->state.store, self->state.id));
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
      return reply(self->state, create_snapshot_now(*self->state.store,
                                                    self->state.id, name));
    },
    [=](snap_list_atom) -> caf::result<std::vector<snapshot_info>> {
      return reply(self->state,
                   list_snapshots_now(*self->state.store, self->state.id));
    },
    [=](snap_del_atom, const std::string& name) -> caf::result<bool> {
      return reply(self->state, delete_snapshot_now(*self->state.store,
                                                    self->state.id, name));
    },
    [=](reset_atom,
        const std::string& snapshot) -> caf::result<workspace_record> {
      return reply_and_tidy(
        self,
        reset_workspace_now(*self->state.store, self->state.id, snapshot));
    },
    [=](remove_atom) -> caf::result<bool> {
      auto& st = self->state;
      // Loaded before the store that holds the values goes; a store too
      // broken to read must not keep the workspace from being deleted.
      auto values = secrets_of(st);
      auto lock = st.store->lock(st.id);
      if (!lock)
        return reply(st, status{lock.err()});
      auto removed = destroy_workspace(*st.store, st.id);
      if (!removed) {
        auto err = removed.err();
        redact(values ? *values : redactor{}, err);
        return to_caf(err);
      }
      st.store->remove_lock(st.id); // still held: waiters start over
      // Nothing is left to own; the registry forgets us on the down message.
      self->quit();
      return true;
    },
  };
}

} // namespace pyro
