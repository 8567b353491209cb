#include "vmm/environments/registry_install.hpp"

#include <chrono>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/file_lock.hpp"
#include "vmm/environments/catalog.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

uint64_t tree_size(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    if (!it->is_symlink(ec) && it->is_regular_file(ec))
      total += it->file_size(ec);
  return total;
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

} // namespace

std::string configured_registry() {
  const char* r = std::getenv("PYRO_REGISTRY");
  return r ? r : "";
}

json to_json(const registry_install& r) {
  return json{{"name", r.name},
              {"source", r.source},
              {"digest", r.manifest_digest},
              {"bytes", r.bytes},
              {"path", r.path.string()},
              {"pulled", r.pulled}};
}

result<fs::path> environment_rootfs(std::string_view name) {
  if (find_environment(name) == nullptr)
    return unknown_environment(name);
  if (!environment_installed(name))
    return make_error(error_code::failed_precondition,
                      "environment '" + std::string{name}
                        + "' is not installed",
                      "run `pyro env pull " + std::string{name} + "`");
  return environment_install_dir(name) / "rootfs";
}

result<registry_install> install_from_registry(std::string_view name,
                                               std::string_view registry,
                                               const registry_options& options,
                                               bool force) {
  const auto* spec = find_environment(name);
  if (!spec)
    return unknown_environment(name);
  if (registry.empty())
    return make_error(error_code::invalid_argument,
                      "no registry given for environment '" + spec->name
                        + "'",
                      "set PYRO_REGISTRY, e.g. http://127.0.0.1:5000/pyro");
  auto cache = environment_cache_dir();
  auto final_dir = environment_install_dir(spec->name);
  auto safe = final_dir.filename().string();
  registry_install out;
  out.name = spec->name;
  out.source = environment_reference(registry, spec->name);
  out.path = final_dir;
  auto lock = sys::file_lock::acquire(environment_pull_lock(spec->name),
                                      std::chrono::minutes{45});
  if (!lock)
    return lock.err();
  if (!force && environment_installed(spec->name)) {
    auto text = sys::read_file(final_dir / "install.json");
    auto j = json::parse(text ? *text : "{}", nullptr, false);
    if (j.is_object()) {
      out.source = j.value("source", out.source);
      out.manifest_digest = j.value("digest", std::string{});
      out.bytes = j.value("size_bytes", uint64_t{0});
    }
    return out;
  }
  std::error_code ec;
  auto staging
    = cache / (".staging-" + safe + "-" + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  auto pulled = pull_rootfs(spec->name, out.source, staging / "rootfs",
                            cache / "blobs", options);
  if (!pulled) {
    fs::remove_all(staging, ec);
    return pulled.err();
  }
  fs::create_directories(staging / "rootfs" / "workspace", ec);
  out.manifest_digest = pulled->manifest_digest;
  out.bytes = tree_size(staging / "rootfs");
  json manifest{{"complete", true},
                {"name", spec->name},
                {"source", out.source},
                {"digest", out.manifest_digest},
                {"layers", pulled->layer_digests},
                {"config", pulled->config_digest},
                {"packages", spec->packages},
                {"size_bytes", out.bytes},
                {"installed_at", now_seconds()}};
  if (auto st = sys::write_file_atomic(staging / "install.json",
                                       manifest.dump(2));
      !st) {
    fs::remove_all(staging, ec);
    return st.err();
  }
  // A broken or forced-over install is moved aside, not deleted first, so
  // the rename below is the only moment the name changes meaning.
  auto old = cache / (".old-" + safe + "-" + std::to_string(::getpid()));
  if (fs::exists(final_dir, ec))
    fs::rename(final_dir, old, ec);
  fs::rename(staging, final_dir, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    return make_error(error_code::internal,
                      "cannot move " + spec->name + " into place: "
                        + ec.message(),
                      "check permissions of " + cache.string());
  }
  (void)sys::sync_directory(cache);
  fs::remove_all(old, ec);
  out.pulled = true;
  if (options.progress)
    options.progress("[pull] phase=ready environment=" + spec->name
                     + " bytes=" + std::to_string(out.bytes));
  return out;
}

result<std::vector<std::string>>
prune_cached_blobs(bool dry_run, const std::set<std::string>& leaving) {
  auto cache = environment_cache_dir();
  std::set<fs::path> gone;
  for (const auto& name : leaving)
    gone.insert(environment_install_dir(name));
  std::set<std::string> keep;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache, ec)) {
    if (gone.count(e.path()) != 0)
      continue;
    auto text = sys::read_file(e.path() / "install.json");
    if (!text)
      continue;
    auto j = json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.value("complete", false))
      continue;
    if (j.contains("layers") && j["layers"].is_array())
      for (const auto& d : j["layers"])
        if (d.is_string())
          keep.insert(d.get<std::string>());
    if (j.contains("config") && j["config"].is_string())
      keep.insert(j["config"].get<std::string>());
  }
  std::vector<std::string> removed;
  auto dir = cache / "blobs" / "sha256";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    files.push_back(e.path());
  for (const auto& p : files) {
    auto name = p.filename().string();
    if (p.extension() == ".lock")
      continue;
    auto hex = name.substr(0, name.find('.'));
    if (keep.count("sha256:" + hex))
      continue;
    // A download in progress holds the blob's lock; leave it alone. A dry
    // run makes no lock file where there is none (then nobody downloads).
    auto lock_path = dir / (hex + ".lock");
    sys::file_lock lock;
    if (!dry_run || fs::exists(lock_path, ec)) {
      auto taken
        = sys::file_lock::acquire(lock_path, std::chrono::milliseconds{0});
      if (!taken)
        continue;
      lock = std::move(*taken);
    }
    if (!dry_run) {
      fs::remove(p, ec);
      fs::remove(lock_path, ec);
    }
    removed.push_back(name == hex ? "sha256:" + hex : name);
  }
  return removed;
}

result<push_report> push_environment(std::string_view name,
                                     std::string_view reference,
                                     const registry_options& options) {
  auto rootfs = environment_rootfs(name);
  if (!rootfs)
    return rootfs.err();
  return push_rootfs(name, *rootfs, reference,
                     environment_cache_dir() / ".push", options);
}

} // namespace pyro::vmm
