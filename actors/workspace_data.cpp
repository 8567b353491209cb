#include "actors/workspace_data.hpp"

#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include "actors/archive/safe_archive.hpp"
#include "actors/patch/unified_diff.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "messages/wire/relative_path.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Largest file the host reads whole for diffs and patches.
constexpr uint64_t max_inline_file = uint64_t{64} << 20;

// The top-level name the agent gives an exported /workspace.
constexpr const char* baseline_root = "workspace";

// Mutations move last_activity_at; reads never do.
status touch(const state_store& store, const std::string& id) {
  auto locked = store.lock_and_load(id);
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
  auto tar
    = scratch_dir(store, id) / ("sync-" + std::to_string(::getpid()) + ".tar");
  auto packed = pack_for_import(source, tar);
  if (!packed)
    return packed.err();
  auto imported = (*link)->import_tar(tar, *target);
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
  if (output.empty())
    return make_error(error_code::invalid_argument,
                      "an output path is required", "pass --output PATH");
  auto out = fs::absolute(output).lexically_normal();
  std::error_code ec;
  bool exists = fs::exists(fs::symlink_status(out, ec));
  if (exists && !overwrite)
    return make_error(error_code::already_exists,
                      out.string() + " already exists",
                      "choose another --output, or remove it first");
  if (!fs::is_directory(out.parent_path(), ec))
    return make_error(error_code::not_found, "the output directory "
                                               + out.parent_path().string()
                                               + " does not exist");
  auto record = store.load(id);
  if (!record)
    return record.err();
  auto link = open_agent(store, *record);
  if (!link)
    return link.err();
  auto tar = scratch_dir(store, id)
             / ("export-" + std::to_string(::getpid()) + ".tar");
  auto exported = (*link)->export_tar(*guest, tar);
  if (!exported) {
    fs::remove(tar, ec);
    return exported.err();
  }
  // Extract beside the output, then move the one artifact into place.
  auto staging
    = out.parent_path() / ("." + out.filename().string() + ".export");
  fs::remove_all(staging, ec);
  auto extracted = extract_untrusted(tar, staging);
  fs::remove(tar, ec);
  if (!extracted)
    return extracted.err();
  auto artifact = staging / fs::path{*guest}.filename();
  if (!fs::exists(fs::symlink_status(artifact, ec))) {
    fs::remove_all(staging, ec);
    return make_error(error_code::internal,
                      "the agent's export of " + *guest + " held no '"
                        + artifact.filename().string() + "'");
  }
  if (exists)
    fs::remove_all(out, ec);
  fs::rename(artifact, out, ec);
  fs::remove_all(staging, ec);
  if (ec)
    return make_error(error_code::internal, "cannot move the export to "
                                              + out.string() + ": "
                                              + ec.message());
  return export_result{id,
                       *guest,
                       out.string(),
                       exported->artifact_type,
                       exported->entry_count,
                       extracted->second,
                       record->execution_mode,
                       exported->skipped_count,
                       std::move(exported->skipped)};
}

result<std::map<std::string, std::string>>
read_tar_members(const fs::path& tar, const std::set<std::string>& wanted) {
  std::map<std::string, std::string> out;
  if (wanted.empty())
    return out;
  std::unique_ptr<archive, decltype(&archive_read_free)> a{archive_read_new(),
                                                           &archive_read_free};
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), tar.c_str(), 65536) != ARCHIVE_OK)
    return make_error(error_code::internal, "cannot read " + tar.string() + ": "
                                              + archive_error_string(a.get()));
  archive_entry* entry = nullptr;
  while (archive_read_next_header(a.get(), &entry) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(entry);
    while (name.rfind("./", 0) == 0)
      name = name.substr(2);
    if (wanted.count(name) == 0 || archive_entry_filetype(entry) != AE_IFREG)
      continue;
    std::string body;
    char buf[65536];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof(buf))) > 0;)
      body.append(buf, static_cast<size_t>(n));
    out[name] = std::move(body);
  }
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
