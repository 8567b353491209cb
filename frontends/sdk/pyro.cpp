#include "frontends/sdk/pyro.hpp"

#include <map>

#include "actors/call.hpp"
#include "actors/runtime.hpp"
#include "actors/sandbox_pool.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/home_dirs.hpp"
#include "vmm/sandbox/slirp.hpp"

namespace pyro {

using nlohmann::json;

namespace {

std::vector<capability>
derive_capabilities(const std::vector<vmm::backend_availability>& backends) {
  auto usable = [&](std::initializer_list<std::string_view> names) {
    for (const auto& b : backends)
      for (auto name : names)
        if (b.name == name && b.available)
          return true;
    return false;
  };
  std::vector<capability> out;
  bool vm = usable({"firecracker", "qemu"});
  out.push_back({"vm_boot", vm,
                 vm ? "a VM backend is available"
                    : "neither the firecracker nor the qemu backend is "
                      "available (see backends)"});
  bool exec = usable({"firecracker", "qemu", "sandbox"});
  out.push_back({"guest_exec", exec,
                 exec ? "an isolating backend is available"
                      : "no isolating backend is available (see backends)"});
  bool net = exec && static_cast<bool>(vmm::find_slirp4netns());
  out.push_back({"guest_network", net,
                 net ? "egress through slirp4netns; published ports on "
                       "127.0.0.1"
                     : "needs an isolating backend and slirp4netns"});
  return out;
}

} // namespace

Pyro::Pyro() : Pyro(pyro_options{}) {
  // nop
}

Pyro::Pyro(pyro_options options)
  : home_(options.home.empty() ? sys::pyro_home() : options.home),
    timeout_(options.timeout),
    runtime_(std::make_unique<runtime>(
      home_, options.sandbox_pool >= 0 ? options.sandbox_pool
                                       : sandbox_pool_target(1))) {
  // nop
}

Pyro::~Pyro() = default;

caf::actor_system& Pyro::system() noexcept {
  return runtime_->system();
}

result<environment_list> Pyro::list_environments(bool include_test) {
  environment_list out;
  out.catalog_version = std::string{vmm::catalog_version()};
  for (const auto& spec : vmm::environment_catalog()) {
    if (spec.test_only && !include_test)
      continue;
    out.environments.push_back({spec, vmm::environment_installed(spec.name)});
  }
  return out;
}

result<vmm::install_info> Pyro::pull_environment(const std::string& name,
                                                 progress_fn progress,
                                                 bool force) {
  return vmm::pull_environment(name, progress, force);
}

result<vmm::push_report> Pyro::push_environment(const std::string& name,
                                                const std::string& reference,
                                                progress_fn progress) {
  vmm::registry_options options;
  options.progress = [&](std::string_view line) {
    if (progress)
      progress(std::string{line});
  };
  return vmm::push_environment(name, reference, options);
}

result<vmm::install_info> Pyro::inspect_environment(const std::string& name) {
  return vmm::inspect_environment(name);
}

result<vmm::prune_report> Pyro::prune_environments(bool dry_run) {
  // Parked sandboxes are not workspaces; they would keep a removed root
  // file system mounted, so a prune drains this home's first (and a dry
  // run counts them as gone, as they would be).
  if (!dry_run)
    sandbox_pool{runtime_->store()}.drain({}, true);
  vmm::prune_options options;
  options.dry_run = dry_run;
  options.home = home_;
  options.uses = [this](const std::filesystem::path& home, bool current)
    -> result<std::map<std::string, std::string>> {
    // This home through the registry, which sees creates in flight; another
    // from its files, with its parked sandboxes, which are its own.
    state_store other{home};
    std::vector<workspace_entry> entries;
    if (current) {
      auto all = list_all();
      if (!all)
        return all.err();
      entries = std::move(*all);
    } else {
      entries = other.list();
    }
    std::map<std::string, std::string> uses;
    for (const auto& e : entries) {
      if (!e.problem.empty())
        return make_error(error_code::failed_precondition,
                          "workspace '" + e.workspace_id + "' in "
                            + home.string()
                            + " has an unreadable record, so its "
                              "environment is unknown",
                          "repair or delete it before pruning");
      uses.emplace(e.record.environment, "workspace " + e.workspace_id);
    }
    if (!current)
      for (const auto& environment : sandbox_pool{other}.environments())
        uses.emplace(environment, "a parked sandbox");
    return uses;
  };
  return vmm::prune_environments(options);
}

result<doctor_report> Pyro::doctor() {
  doctor_report report;
  report.host = vmm::probe_host();
  report.backends = vmm::backend_report(report.host);
  report.capabilities = derive_capabilities(report.backends);
  report.pyro_home = home_;
  report.environment_cache = vmm::environment_cache_dir();
  report.runtime_ok = report.capabilities[1].available;
  return report;
}

result<std::vector<workspace_entry>> Pyro::list_all() {
  caf::scoped_actor self{runtime_->system()};
  return call<std::vector<workspace_entry>>(self, runtime_->registry(),
                                            timeout_, list_atom_v);
}

result<std::vector<workspace_entry>> Pyro::list_workspaces() {
  auto all = list_all();
  if (!all)
    return all;
  std::vector<workspace_entry> out;
  for (auto& e : *all)
    if (e.record.kind != "vm")
      out.push_back(std::move(e));
  return out;
}

result<workspace_actor> Pyro::find_workspace(caf::scoped_actor& self,
                                             const std::string& workspace_id) {
  return call<workspace_actor>(self, runtime_->registry(), timeout_,
                               lookup_atom_v, workspace_id);
}

result<workspace_record>
Pyro::status_workspace(const std::string& workspace_id) {
  return ask_workspace<workspace_record>(workspace_id, status_atom_v);
}

result<workspace_record>
Pyro::update_workspace(const std::string& workspace_id,
                       const workspace_update& change) {
  return ask_workspace<workspace_record>(workspace_id, update_atom_v, change);
}

result<delete_result> Pyro::delete_workspace(const std::string& workspace_id) {
  auto removed = ask_workspace<bool>(workspace_id, remove_atom_v);
  if (!removed)
    return removed.err();
  return delete_result{workspace_id, *removed};
}

json to_json(const environment_list& list) {
  json envs = json::array();
  for (const auto& e : list.environments) {
    auto j = vmm::to_json(e.spec);
    j["installed"] = e.installed;
    envs.push_back(std::move(j));
  }
  return json{{"catalog_version", list.catalog_version},
              {"environments", std::move(envs)}};
}

json to_json(const doctor_report& r) {
  json backends = json::array();
  for (const auto& b : r.backends)
    backends.push_back(vmm::to_json(b));
  json caps = json::object();
  for (const auto& c : r.capabilities)
    caps[c.name] = {{"available", c.available}, {"reason", c.reason}};
  return json{{"runtime", r.runtime_ok ? "PASS" : "FAIL"},
              {"host", vmm::to_json(r.host)},
              {"backends", std::move(backends)},
              {"capabilities", std::move(caps)},
              {"pyro_home", r.pyro_home.string()},
              {"environment_cache", r.environment_cache.string()}};
}

result<workspace_record> Pyro::create_workspace(const create_request& request,
                                                progress_fn progress) {
  caf::scoped_actor self{runtime_->system()};
  return call<workspace_record>(self, runtime_->registry(), timeout_,
                                create_atom_v, request,
                                progress_sink{std::move(progress)});
}

result<exec_result> Pyro::exec_workspace(const std::string& workspace_id,
                                         const exec_request& request) {
  caf::scoped_actor self{runtime_->system()};
  auto ws = find_workspace(self, workspace_id);
  if (!ws)
    return ws.err();
  // The command's own timeout plus slack for the round trip.
  auto limit
    = std::chrono::milliseconds{(int64_t{request.timeout_seconds} + 30) * 1000};
  return call<exec_result>(self, *ws, std::max(limit, timeout_), exec_atom_v,
                           request);
}

template <class T, class... Ts>
result<T> Pyro::ask_workspace(const std::string& workspace_id, Ts&&... xs) {
  caf::scoped_actor self{runtime_->system()};
  auto ws = find_workspace(self, workspace_id);
  if (!ws)
    return ws.err();
  auto out = call<T>(self, *ws, timeout_, xs...);
  if (out || out.err().code != error_code::unavailable)
    return out;
  // A handle that died between lookup and call (a crash the registry has
  // not heard of yet): look up again once, which respawns it. The same
  // handle again means the actor itself answered `unavailable` (an agent
  // that does not answer, say): asking twice would only take twice as long.
  auto again = find_workspace(self, workspace_id);
  if (!again)
    return again.err();
  if (*again == *ws)
    return out;
  return call<T>(self, *again, timeout_, xs...);
}

result<sync_result> Pyro::push_workspace_sync(const std::string& id,
                                              const std::string& source_path,
                                              const std::string& dest) {
  return ask_workspace<sync_result>(id, sync_atom_v, source_path, dest);
}

result<export_result> Pyro::export_workspace(const std::string& id,
                                             const std::string& path,
                                             const std::string& output_path,
                                             bool overwrite) {
  return ask_workspace<export_result>(id, export_atom_v, path, output_path,
                                      overwrite);
}

result<workspace_diff> Pyro::diff_workspace(const std::string& id) {
  return ask_workspace<workspace_diff>(id, diff_atom_v);
}

result<std::vector<file_info>>
Pyro::list_workspace_files(const std::string& id, const std::string& path,
                           bool recursive) {
  return ask_workspace<std::vector<file_info>>(id, files_atom_v, path,
                                               recursive);
}

result<file_read_result> Pyro::read_workspace_file(const std::string& id,
                                                   const std::string& path,
                                                   uint64_t max_bytes) {
  return ask_workspace<file_read_result>(id, read_atom_v, path, max_bytes);
}

status Pyro::write_workspace_file(const std::string& id,
                                  const std::string& path,
                                  const std::string& text) {
  auto written = ask_workspace<bool>(id, write_atom_v, path, text);
  if (!written)
    return written.err();
  return {};
}

result<patch_result> Pyro::apply_workspace_patch(const std::string& id,
                                                 const std::string& patch) {
  return ask_workspace<patch_result>(id, patch_atom_v, patch);
}

result<std::vector<journal_entry>> Pyro::logs_workspace(const std::string& id) {
  return ask_workspace<std::vector<journal_entry>>(id, logs_atom_v);
}

result<workspace_record> Pyro::stop_workspace(const std::string& id) {
  return ask_workspace<workspace_record>(id, stop_atom_v);
}

result<workspace_record> Pyro::start_workspace(const std::string& id) {
  return ask_workspace<workspace_record>(id, start_atom_v);
}

result<snapshot_info> Pyro::create_snapshot(const std::string& id,
                                            const std::string& name) {
  return ask_workspace<snapshot_info>(id, snap_add_atom_v, name);
}

result<std::vector<snapshot_info>> Pyro::list_snapshots(const std::string& id) {
  return ask_workspace<std::vector<snapshot_info>>(id, snap_list_atom_v);
}

status Pyro::delete_snapshot(const std::string& id, const std::string& name) {
  auto deleted = ask_workspace<bool>(id, snap_del_atom_v, name);
  if (!deleted)
    return deleted.err();
  return {};
}

result<workspace_record> Pyro::reset_workspace(const std::string& id,
                                               const std::string& snapshot) {
  return ask_workspace<workspace_record>(id, reset_atom_v, snapshot);
}

result<workspace_record> Pyro::create_vm(create_request request,
                                         progress_fn progress) {
  request.kind = "vm";
  return create_workspace(request, std::move(progress));
}

result<vm_run_result> Pyro::exec_vm(const std::string& vm_id,
                                    const exec_request& request) {
  auto status = status_workspace(vm_id);
  if (!status)
    return status.err();
  if (status->kind != "vm")
    return make_error(error_code::invalid_argument,
                      "'" + vm_id + "' is a workspace, not a VM",
                      "use workspace exec for workspaces");
  auto ran = exec_workspace(vm_id, request);
  // Auto-clean: the VM goes whether or not the command succeeded.
  auto deleted = delete_workspace(vm_id);
  if (!ran)
    return ran.err();
  return vm_run_result{vm_id, status->environment, std::move(*ran),
                       static_cast<bool>(deleted)};
}

result<vm_run_result> Pyro::run_in_vm(create_request request,
                                      const exec_request& exec,
                                      progress_fn progress) {
  auto vm = create_vm(std::move(request), std::move(progress));
  if (!vm)
    return vm.err();
  return exec_vm(vm->workspace_id, exec);
}

result<reap_result> Pyro::reap_expired() {
  auto all = list_all(); // workspaces and VMs alike
  if (!all)
    return all.err();
  reap_result out;
  auto now = sys::unix_now();
  for (const auto& entry : *all) {
    const auto& r = entry.record;
    if (!entry.problem.empty() || r.ttl_seconds <= 0 || r.expires_at <= 0
        || r.expires_at > now)
      continue;
    auto deleted = delete_workspace(entry.workspace_id);
    if (deleted)
      out.deleted.push_back(entry.workspace_id);
    else if (deleted.err().code != error_code::not_found) // raced a delete
      out.failed.emplace_back(entry.workspace_id, deleted.err());
  }
  return out;
}

json to_json(const reap_result& r) {
  json failed = json::array();
  for (const auto& [id, err] : r.failed)
    failed.push_back({{"workspace_id", id}, {"error", to_json(err)["error"]}});
  return json{{"deleted", r.deleted},
              {"count", r.deleted.size()},
              {"failed", std::move(failed)}};
}

json to_json(const vm_run_result& r) {
  auto j = to_json(r.exec);
  j["vm_id"] = r.vm_id;
  j["environment"] = r.environment;
  j["cleanup"] = {{"deleted", r.deleted}, {"reason", "post_exec_cleanup"}};
  return j;
}

json to_json(const delete_result& r) {
  return json{{"workspace_id", r.workspace_id}, {"deleted", r.deleted}};
}

} // namespace pyro
