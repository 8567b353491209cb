#include "actors/workspace_lifecycle.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "actors/interrupted.hpp"
#include "actors/journal.hpp"
#include "actors/teardown.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/owned_temp.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path snapshots_dir(const state_store& store, const std::string& id) {
  return store.workspace_dir(id) / "snapshots";
}

// Saves /workspace as `dir`/workspace.tar plus manifest.json, built in a
// staging directory first so a half-written snapshot never shows.
result<snapshot_info> capture(agent_link& link, const fs::path& dir,
                              const std::string& name) {
  std::error_code ec;
  auto staging = dir.parent_path() / sys::owned_temp_name(partial_prefix);
  fs::create_directories(staging, ec);
  auto exported = link.export_tar("/workspace", staging / "workspace.tar");
  if (!exported)
    return exported.err();
  auto walk = link.walk();
  if (!walk)
    return walk.err();
  snapshot_info info{name, sys::unix_now(), exported->bytes,
                     exported->entry_count};
  json meta = to_json(info);
  if (auto w = sys::write_file_atomic(staging / "manifest.json",
                                      dump_json(to_json(*walk)));
      !w)
    return w.err();
  if (auto w
      = sys::write_file_atomic(staging / "snapshot.json", dump_json(meta));
      !w)
    return w.err();
  fs::rename(staging, dir, ec);
  if (ec) {
    auto failed = ec.message();
    fs::remove_all(staging, ec);
    return make_error(error_code::internal,
                      "cannot store snapshot " + name + ": " + failed);
  }
  return info;
}

} // namespace

status validate_snapshot_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '.'
            && name != "baseline";
  for (char c : name)
    ok = ok
         && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_'
             || c == '-');
  if (!ok)
    return make_error(error_code::invalid_argument,
                      "invalid snapshot name '" + name + "'",
                      "use 1-64 letters, digits, '.', '_' or '-', not "
                      "starting with '.'; 'baseline' is reserved");
  return {};
}

result<workspace_record> stop_workspace_now(const state_store& store,
                                            const std::string& id) {
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  auto* record = &locked->record;
  if (record->state == "failed")
    return failed_workspace_error(*record);
  auto backend = backend_of(*record);
  if (!backend)
    return backend.err();
  if (auto stopped = (*backend)->stop(sandbox_spec_for(store, *record));
      !stopped)
    return stopped.err();
  record->state = "stopped";
  record->last_activity_at = sys::unix_now();
  if (auto saved = store.save(*record); !saved)
    return saved.err();
  return *record;
}

result<workspace_record> start_workspace_now(const state_store& store,
                                             const std::string& id) {
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  auto* record = &locked->record;
  if (record->state == "failed")
    return failed_workspace_error(*record);
  auto link = boot_workspace(store, *record);
  if (!link)
    return link.err();
  // A sandbox that was still running is kept: its agent must answer.
  if (auto answers = check_answers(**link, id); !answers)
    return answers.err();
  record->state = "started";
  record->last_activity_at = sys::unix_now();
  if (auto saved = store.save(*record); !saved)
    return saved.err();
  return *record;
}

result<snapshot_info> create_snapshot_now(const state_store& store,
                                          const std::string& id,
                                          const std::string& name) {
  if (auto valid = validate_snapshot_name(name); !valid)
    return valid.err();
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  auto* record = &locked->record;
  if (record->state == "failed")
    return failed_workspace_error(*record);
  auto dir = snapshots_dir(store, id) / name;
  std::error_code ec;
  if (fs::exists(dir, ec))
    return make_error(error_code::already_exists,
                      "snapshot '" + name + "' already exists",
                      "delete it first or choose another name");
  fs::create_directories(dir.parent_path(), ec);
  auto link = open_agent(store, *record);
  if (!link)
    return link.err();
  return capture(**link, dir, name);
}

result<std::vector<snapshot_info>> list_snapshots_now(const state_store& store,
                                                      const std::string& id) {
  if (!store.exists(id))
    return store.load(id).err();
  std::vector<snapshot_info> out;
  std::error_code ec;
  for (const auto& dirent :
       fs::directory_iterator(snapshots_dir(store, id), ec)) {
    auto name = dirent.path().filename().string();
    if (name.front() == '.')
      continue; // a snapshot still being written, or its remains
    auto text = sys::read_file(dirent.path() / "snapshot.json");
    auto j = text ? json::parse(*text, nullptr, false) : json{};
    snapshot_info info;
    info.name = name;
    if (j.is_object()) {
      info.created_at = j.value("created_at", 0.0);
      info.bytes = j.value("bytes", uint64_t{0});
      info.entry_count = j.value("entry_count", uint64_t{0});
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

status delete_snapshot_now(const state_store& store, const std::string& id,
                           const std::string& name) {
  if (auto valid = validate_snapshot_name(name); !valid)
    return valid;
  auto lock = store.lock(id);
  if (!lock)
    return lock.err();
  auto dir = snapshots_dir(store, id) / name;
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return make_error(error_code::not_found,
                      "snapshot '" + name + "' does not exist",
                      "`pyro workspace snapshot list " + id + "` shows them");
  fs::remove_all(dir, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot delete snapshot " + name + ": " + ec.message());
  return {};
}

result<workspace_record> reset_locked(const state_store& store,
                                      locked_record& locked,
                                      const std::string& snapshot) {
  auto* record = &locked.record;
  const auto& id = record->workspace_id;
  fs::path source;
  if (snapshot.empty() || snapshot == "baseline") {
    source = baseline_dir(store, id) / "workspace.tar";
  } else {
    if (auto valid = validate_snapshot_name(snapshot); !valid)
      return valid.err();
    source = snapshots_dir(store, id) / snapshot / "workspace.tar";
  }
  std::error_code ec;
  if (!fs::exists(source, ec))
    return make_error(error_code::not_found,
                      "snapshot '" + snapshot + "' does not exist",
                      "`pyro workspace snapshot list " + id + "` shows them");
  auto backend = backend_of(*record);
  if (!backend)
    return backend.err();
  // Said before the sandbox goes: a reset killed from here on is finished
  // by the next call that takes the lock.
  record->state = "resetting";
  record->reset_from = snapshot.empty() ? "baseline" : snapshot;
  if (auto saved = store.save(*record); !saved)
    return saved.err();
  if (auto destroyed = (*backend)->destroy(sandbox_spec_for(store, *record));
      !destroyed)
    return destroyed.err();
  auto link = boot_workspace(store, *record);
  if (!link)
    return link.err();
  // The snapshot is what the agent exported of /workspace, byte for byte;
  // it goes back the same way, its top directory stripped. The agent writes
  // it without following any link, so every name and link target returns
  // as it was.
  if (auto imported = (*link)->import_tar(source, "/workspace", 1); !imported)
    return imported.err();
  if (auto cleared = journal{store.workspace_dir(id) / "commands"}.clear();
      !cleared)
    return cleared.err();
  record->command_count = 0;
  record->state = "started";
  record->reset_from.clear();
  record->last_activity_at = sys::unix_now();
  if (auto counted = store.activity_of(id).write({0, record->last_activity_at});
      !counted)
    return counted.err();
  if (auto saved = store.save(*record); !saved)
    return saved.err();
  return *record;
}

result<workspace_record> reset_workspace_now(const state_store& store,
                                             const std::string& id,
                                             const std::string& snapshot) {
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  if (locked->record.state == "failed")
    return failed_workspace_error(locked->record);
  return reset_locked(store, *locked, snapshot);
}

} // namespace pyro
