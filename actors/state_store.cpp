#include "actors/state_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

namespace fs = std::filesystem;

namespace {

constexpr const char* trash_prefix = ".trash-";
constexpr const char* creating_name = "creating.json";

error not_found_error(const std::string& id) {
  return make_error(error_code::not_found,
                    "workspace '" + id + "' does not exist",
                    "`pyro workspace list` shows the workspaces that exist");
}

error corrupt_error(const std::string& id, const fs::path& path,
                    const std::string& problem) {
  return make_error(error_code::failed_precondition,
                    "workspace '" + id + "' has an unreadable record "
                      + path.string() + ": " + problem,
                    "inspect the file, or remove the workspace with "
                    "`pyro workspace delete "
                      + id + "`");
}

// With the pid: a generator seeded before a fork repeats in every child.
std::string unique_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "-" + std::to_string(rng());
}

} // namespace

state_store::state_store(fs::path home) : home_(std::move(home)) {
  // nop
}

fs::path state_store::workspaces_dir() const {
  return home_ / "workspaces";
}

fs::path state_store::workspace_dir(const std::string& id) const {
  return workspaces_dir() / id;
}

fs::path state_store::record_path(const std::string& id) const {
  return workspace_dir(id) / "workspace.json";
}

fs::path state_store::lock_path(const std::string& id) const {
  return home_ / "locks" / (id + ".lock");
}

activity_file state_store::activity_of(const std::string& id) const {
  return activity_file{workspace_dir(id) / "activity"};
}

bool state_store::exists(const std::string& id) const {
  std::error_code ec;
  return validate_workspace_id(id) && fs::is_directory(workspace_dir(id), ec);
}

result<workspace_record> state_store::load(const std::string& id) const {
  if (auto valid = validate_workspace_id(id); !valid)
    return valid.err();
  auto path = record_path(id);
  auto text = sys::read_file(path);
  if (!text && text.err().code == error_code::not_found) {
    auto creating = workspace_dir(id) / creating_name;
    if (auto early = sys::read_file(creating)) {
      path = creating;
      text = std::move(early);
    }
  }
  if (!text) {
    if (text.err().code == error_code::not_found)
      return exists(id) ? corrupt_error(id, path, "the file is missing")
                        : not_found_error(id);
    return corrupt_error(id, path, text.err().message);
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return corrupt_error(id, path, "not valid JSON");
  auto record = workspace_record_from_json(j);
  if (!record) {
    if (record.err().code == error_code::failed_precondition)
      return record.err(); // a newer schema: the hint says upgrade
    return corrupt_error(id, path, record.err().message);
  }
  if (record->workspace_id != id)
    return corrupt_error(id, path,
                         "it names workspace '" + record->workspace_id + "'");
  if (auto used = activity_of(id).read()) {
    record->command_count
      = std::max(record->command_count, used->command_count);
    record->last_activity_at
      = std::max(record->last_activity_at, used->last_activity_at);
  }
  return record;
}

status state_store::save(const workspace_record& record) const {
  if (auto written
      = write_record(record, record_path(record.workspace_id), true);
      !written)
    return written;
  // The durable record supersedes the create-time one.
  std::error_code ec;
  fs::remove(workspace_dir(record.workspace_id) / creating_name, ec);
  return {};
}

status state_store::save_creating(const workspace_record& record) const {
  return write_record(
    record, workspace_dir(record.workspace_id) / creating_name, false);
}

status state_store::write_record(const workspace_record& record,
                                 const fs::path& path, bool durable) const {
  if (auto valid = validate_workspace_id(record.workspace_id); !valid)
    return valid;
  std::error_code ec;
  fs::create_directories(workspace_dir(record.workspace_id), ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot create "
                        + workspace_dir(record.workspace_id).string() + ": "
                        + ec.message());
  sys::remove_stale_temp_files(path);
  // The version being replaced stays linked under superseded/ so that the
  // rename does not free its blocks now: on a disk mounted with online
  // discard, the next journal commit (the next fsync, anyone's) waits for
  // the blocks freed before it. tidy() frees them off the caller's path.
  if (fs::exists(path, ec)) {
    auto superseded = workspace_dir(record.workspace_id) / "superseded";
    fs::create_directories(superseded, ec);
    auto kept = superseded / unique_name();
    if (::link(path.c_str(), kept.c_str()) != 0)
      return make_error(error_code::internal, "cannot keep " + path.string()
                                                + ": " + std::strerror(errno));
  }
  auto j = to_json(record);
  j.erase("service_counts"); // live, asked of the agent
  j.erase("hint");           // shown with a live state only
  j.erase("disk_limited");   // the backend's to say
  auto text = dump_json(j, 2) + "\n";
  return durable ? sys::write_file_atomic(path, text, 0600)
                 : sys::write_file_atomic_unsynced(path, text, 0600);
}

void state_store::tidy(const std::string& id) const {
  std::error_code ec;
  for (const auto& e :
       fs::directory_iterator(workspace_dir(id) / "superseded", ec))
    fs::remove(e.path(), ec);
}

std::vector<workspace_entry> state_store::list() const {
  std::vector<workspace_entry> out;
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator(workspaces_dir(), ec)) {
    auto id = dirent.path().filename().string();
    if (id.rfind(trash_prefix, 0) == 0 || !dirent.is_directory(ec))
      continue;
    workspace_entry entry;
    entry.workspace_id = id;
    if (auto record = load(id))
      entry.record = std::move(*record);
    else
      entry.problem = record.err().message;
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.record.last_activity_at != b.record.last_activity_at)
      return a.record.last_activity_at > b.record.last_activity_at;
    return a.workspace_id < b.workspace_id;
  });
  return out;
}

status state_store::remove(const std::string& id) const {
  if (auto valid = validate_workspace_id(id); !valid)
    return valid;
  if (!exists(id))
    return not_found_error(id);
  auto trash = workspaces_dir() / (trash_prefix + id + "-" + unique_name());
  std::error_code ec;
  fs::rename(workspace_dir(id), trash, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot remove workspace '" + id + "': " + ec.message());
  if (auto synced = sys::sync_directory(workspaces_dir()); !synced)
    return synced;
  sweep_trash();
  return {};
}

void state_store::sweep_trash() const {
  // Also finishes deletions that an earlier process was killed during.
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator(workspaces_dir(), ec))
    if (dirent.path().filename().string().rfind(trash_prefix, 0) == 0)
      fs::remove_all(dirent.path(), ec);
}

result<locked_record>
state_store::lock_and_load(const std::string& id,
                           std::chrono::milliseconds timeout) const {
  auto held = lock(id, timeout);
  if (!held)
    return held.err();
  auto record = load(id);
  if (!record)
    return record.err();
  return locked_record{std::move(*held), std::move(*record)};
}

void state_store::remove_lock(const std::string& id) const {
  std::error_code ec;
  if (validate_workspace_id(id))
    fs::remove(lock_path(id), ec);
}

void state_store::remove_orphan_locks() const {
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator(home_ / "locks", ec)) {
    auto id = dirent.path().stem().string();
    if (dirent.path().extension() != ".lock" || !validate_workspace_id(id)
        || exists(id))
      continue;
    auto held = lock(id, std::chrono::milliseconds{0});
    if (held && !exists(id))
      remove_lock(id);
  }
}

result<sys::file_lock>
state_store::lock(const std::string& id,
                  std::chrono::milliseconds timeout) const {
  if (auto valid = validate_workspace_id(id); !valid)
    return valid.err();
  return sys::file_lock::acquire(lock_path(id), timeout);
}

} // namespace pyro
