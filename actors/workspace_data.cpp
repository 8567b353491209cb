#include "actors/workspace_data.hpp"

#include <unistd.h>

#include <fcntl.h>
#include <nlohmann/json.hpp>

#include "actors/interrupted.hpp"
#include "actors/archive/export_target.hpp"
#include "actors/archive/safe_archive.hpp"
#include "actors/patch/unified_diff.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/owned_temp.hpp"
#include "messages/sys/unique_fd.hpp"
#include "messages/wire/relative_path.hpp"
#include "messages/wire/tar.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Largest file the host reads whole for diffs and patches.
constexpr uint64_t max_inline_file = uint64_t{64} << 20;

// Archives in flight wait in the workspace's scratch directory under these.
constexpr const char* export_tar_prefix = "export-";
constexpr const char* sync_tar_prefix = "sync-";

// The top-level name the agent gives an exported /workspace.
constexpr const char* baseline_root = "workspace";

// Mutations move last_activity_at; reads never do.
status touch(const state_store& store, const std::string& id) {
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  auto* record = &locked->record;
  record->last_activity_at = sys::unix_now();
  return store.save(*record);
}

result<std::unique_ptr<agent_link>> link_for(const state_store& store,
                                             const std::string& id) {
  auto record = store.load(id);
  if (!record)
    return record.err();
  return open_agent(store, *record);
}

fs::path scratch_dir(const state_store& store, const std::string& id) {
  auto dir = store.workspace_dir(id) / "tmp";
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir;
}

// The path below /workspace, without the leading "/workspace/".
std::string relative_to_workspace(const std::string& absolute) {
  const std::string root = "/workspace";
  if (absolute == root)
    return {};
  return absolute.substr(root.size() + 1);
}

} // namespace

result<std::string> workspace_path(const std::string& path) {
  if (path.empty())
    return make_error(error_code::invalid_argument, "the path is empty");
  auto parts = wire::workspace_components(path);
  if (!parts)
    return parts.err();
  auto rel = wire::join_components(*parts);
  return rel.empty() ? std::string{"/workspace"} : "/workspace/" + rel;
}

result<sync_result> sync_push(const state_store& store, const std::string& id,
                              const std::string& source,
                              const std::string& dest) {
  auto target = workspace_path(dest.empty() ? "/workspace" : dest);
  if (!target)
    return target.err();
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  auto scratch = scratch_dir(store, id);
  sys::remove_dead_temps(scratch, sync_tar_prefix);
  auto tar = scratch / sys::owned_temp_name(sync_tar_prefix);
  auto packed = pack_for_import(source, tar);
  if (!packed)
    return packed.err();
  auto imported = (*link)->import_tar(tar, *target, 0);
  std::error_code ec;
  fs::remove(tar, ec);
  if (!imported)
    return imported.err();
  if (auto touched = touch(store, id); !touched)
    return touched.err();
  return sync_result{id,
                     fs::absolute(source).lexically_normal().string(),
                     *target,
                     packed->source_kind,
                     packed->entries,
                     packed->bytes};
}

result<export_result> export_path(const state_store& store,
                                  const std::string& id,
                                  const std::string& path,
                                  const std::string& output, bool overwrite) {
  auto guest = workspace_path(path);
  if (!guest)
    return guest.err();
  auto target = export_target::resolve(output, overwrite);
  if (!target)
    return target.err();
  auto record = store.load(id);
  if (!record)
    return record.err();
  auto link = open_agent(store, *record);
  if (!link)
    return link.err();
  auto scratch = scratch_dir(store, id);
  sys::remove_dead_temps(scratch, export_tar_prefix);
  auto tar = scratch / sys::owned_temp_name(export_tar_prefix);
  auto exported = (*link)->export_tar(*guest, tar);
  if (!exported) {
    std::error_code ec;
    fs::remove(tar, ec);
    return exported.err();
  }
  auto artifact = fs::path{*guest}.filename().string();
  auto placed = target->place(tar, artifact);
  std::error_code ec;
  fs::remove(tar, ec);
  if (!placed)
    return placed.err();
  return export_result{id,
                       *guest,
                       target->path().string(),
                       exported->artifact_type,
                       exported->entry_count,
                       placed->bytes,
                       record->execution_mode,
                       exported->skipped_count,
                       std::move(exported->skipped)};
}

namespace {

// One pass over `tar`: the bodies of the `wanted` files, and for wanted
// names that are hard links, the name they link to.
status read_members_once(const fs::path& tar,
                         const std::set<std::string>& wanted,
                         std::map<std::string, std::string>& bodies,
                         std::map<std::string, std::string>& links) {
  sys::unique_fd file{::open(tar.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.get() < 0)
    return make_error(error_code::internal, "cannot read " + tar.string());
  wire::tar_reader reader{wire::fd_source(file.get(), tar.string())};
  char buf[65536];
  for (;;) {
    auto next = reader.next();
    if (!next)
      return next.err();
    if (!*next)
      return {};
    auto name = (*next)->name;
    while (name.rfind("./", 0) == 0)
      name = name.substr(2);
    if (wanted.count(name) == 0)
      continue;
    if ((*next)->type == '1') {
      links[name] = (*next)->link;
      continue;
    }
    if ((*next)->type != '0' && (*next)->type != '7')
      continue;
    std::string body;
    for (;;) {
      auto n = reader.read(buf, sizeof(buf));
      if (!n)
        return n.err();
      if (*n == 0)
        break;
      body.append(buf, *n);
    }
    bodies[name] = std::move(body);
  }
}

} // namespace

result<std::map<std::string, std::string>>
read_tar_members(const fs::path& tar, const std::set<std::string>& wanted) {
  std::map<std::string, std::string> out;
  if (wanted.empty())
    return out;
  std::map<std::string, std::string> links;
  if (auto read = read_members_once(tar, wanted, out, links); !read)
    return read.err();
  // A hard link's content is its target's, which an earlier member holds;
  // one more pass fetches the targets not already read.
  std::set<std::string> targets;
  for (const auto& [name, target] : links)
    if (out.count(target) == 0)
      targets.insert(target);
  std::map<std::string, std::string> ignored;
  if (!targets.empty())
    if (auto read = read_members_once(tar, targets, out, ignored); !read)
      return read.err();
  for (const auto& [name, target] : links)
    if (auto i = out.find(target); i != out.end())
      out[name] = i->second;
  return out;
}

result<workspace_diff> diff_against_baseline(const state_store& store,
                                             const std::string& id) {
  auto base = baseline_dir(store, id);
  auto text = sys::read_file(base / "manifest.json");
  if (!text)
    return make_error(error_code::failed_precondition,
                      "workspace '" + id + "' has no baseline",
                      "it was created by an older pyro; reset cannot help, "
                      "recreate it");
  auto before = manifest_from_json(json::parse(*text, nullptr, false));
  if (!before)
    return before.err();
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  auto after = (*link)->walk();
  if (!after)
    return after.err();
  // One pass over the baseline archive for every changed file.
  std::set<std::string> wanted;
  for (const auto& [path, entry] : *before) {
    auto i = after->find(path);
    if (entry.type == "file"
        && (i == after->end() || i->second.hash != entry.hash
            || i->second.type != "file"))
      wanted.insert(std::string{baseline_root} + "/" + path);
  }
  auto old_files = read_tar_members(base / "workspace.tar", wanted);
  if (!old_files)
    return old_files.err();
  auto old_content = [&](const std::string& path) -> result<std::string> {
    auto i = old_files->find(std::string{baseline_root} + "/" + path);
    if (i == old_files->end())
      return make_error(error_code::internal, "baseline archive lacks " + path);
    return i->second;
  };
  auto new_content = [&](const std::string& path) -> result<std::string> {
    auto got = (*link)->read_file("/workspace/" + path, max_inline_file);
    if (!got)
      return got.err();
    return std::move(got->first);
  };
  return compare_manifests(*before, *after, old_content, new_content);
}

result<std::vector<file_info>> list_files(const state_store& store,
                                          const std::string& id,
                                          const std::string& path,
                                          bool recursive) {
  auto guest = workspace_path(path);
  if (!guest)
    return guest.err();
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  return (*link)->list(*guest, recursive);
}

result<file_read_result> read_file(const state_store& store,
                                   const std::string& id,
                                   const std::string& path,
                                   uint64_t max_bytes) {
  auto guest = workspace_path(path);
  if (!guest)
    return guest.err();
  if (max_bytes == 0 || max_bytes > max_inline_file)
    return make_error(error_code::invalid_argument,
                      "max_bytes must be 1-" + std::to_string(max_inline_file));
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  auto got = (*link)->read_file(*guest, max_bytes);
  if (!got)
    return got.err();
  return file_read_result{id, *guest, std::move(got->first), got->second,
                          max_bytes};
}

status write_file(const state_store& store, const std::string& id,
                  const std::string& path, const std::string& text) {
  auto guest = workspace_path(path);
  if (!guest)
    return guest.err();
  if (*guest == "/workspace")
    return make_error(error_code::invalid_argument,
                      "cannot write over /workspace itself");
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  if (auto written = (*link)->write_file(*guest, text); !written)
    return written;
  return touch(store, id);
}

result<patch_result> apply_patch(const state_store& store,
                                 const std::string& id,
                                 const std::string& patch) {
  auto parsed = parse_unified_diff(patch);
  if (!parsed)
    return parsed.err();
  auto link = link_for(store, id);
  if (!link)
    return link.err();
  struct planned {
    std::string guest;
    file_patch::action kind;
    std::string content;
  };
  std::vector<planned> plan;
  for (const auto& fp : *parsed) {
    auto guest = workspace_path(fp.path);
    if (!guest)
      return guest.err();
    auto current = (*link)->read_file(*guest, max_inline_file);
    bool exists = static_cast<bool>(current);
    if (!exists && current.err().code != error_code::not_found)
      return current.err();
    if (fp.kind == file_patch::action::add && exists)
      return make_error(error_code::failed_precondition,
                        "the patch adds '" + fp.path + "', which exists",
                        "nothing was changed");
    if (fp.kind != file_patch::action::add && !exists)
      return make_error(error_code::failed_precondition,
                        "the patch changes '" + fp.path
                          + "', which does not exist",
                        "nothing was changed");
    if (exists && current->second)
      return make_error(error_code::resource_exhausted,
                        "'" + fp.path + "' is larger than "
                          + std::to_string(max_inline_file) + " bytes");
    auto next = apply_file_patch(fp, exists ? current->first : "");
    if (!next)
      return next.err();
    plan.push_back({*guest, fp.kind, std::move(*next)});
  }
  patch_result out;
  out.workspace_id = id;
  for (const auto& step : plan) {
    auto rel = relative_to_workspace(step.guest);
    if (step.kind == file_patch::action::remove) {
      if (auto removed = (*link)->remove(step.guest); !removed)
        return removed.err();
      out.deleted.push_back(rel);
    } else {
      if (auto written = (*link)->write_file(step.guest, step.content);
          !written)
        return written.err();
      (step.kind == file_patch::action::add ? out.added : out.modified)
        .push_back(rel);
    }
  }
  if (auto touched = touch(store, id); !touched)
    return touched.err();
  return out;
}

result<std::vector<journal_entry>> read_journal(const state_store& store,
                                                const std::string& id) {
  if (!store.exists(id))
    return store.load(id).err();
  return journal{store.workspace_dir(id) / "commands"}.read_all();
}

} // namespace pyro
