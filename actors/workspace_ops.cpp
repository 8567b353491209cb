#include "actors/workspace_ops.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "actors/archive/safe_archive.hpp"
#include "actors/journal.hpp"
#include "actors/published_ports.hpp"
#include "actors/redaction.hpp"
#include "actors/sandbox_pool.hpp"
#include "actors/secret_store.hpp"
#include "actors/teardown.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/environment_install.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/environment_users.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/sandbox/slirp.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Undoes a half-made workspace unless `dismiss` is called.
class teardown_guard {
public:
  teardown_guard(const state_store& store, std::string id)
    : store_(store), id_(std::move(id)) {
    // nop
  }

  ~teardown_guard() {
    if (armed_ && destroy_workspace(store_, id_))
      store_.remove_lock(id_); // still held by the create
  }

  void dismiss() {
    armed_ = false;
  }

private:
  const state_store& store_;
  std::string id_;
  bool armed_ = true;
};

void say(const progress_fn& progress, const std::string& line) {
  if (progress)
    progress(line);
}

// A fresh sandbox has no secrets yet: they go in before anything else.
result<std::unique_ptr<agent_link>>
link_to_new_sandbox(const state_store& store, const workspace_record& r,
                    const vmm::agent_endpoint& endpoint) {
  auto link = connect_agent(endpoint);
  if (!link)
    return link.err();
  if (auto put = materialise_secrets(store, r, **link); !put)
    return put.err();
  return link;
}

} // namespace

fs::path baseline_dir(const state_store& store, const std::string& id) {
  return store.workspace_dir(id) / "baseline";
}

result<fs::path> installed_rootfs(const std::string& environment) {
  if (!vmm::environment_installed(environment))
    return make_error(error_code::failed_precondition,
                      "environment '" + environment + "' is not installed",
                      "run `pyro env pull " + environment + "` first");
  return vmm::environment_install_dir(environment) / "rootfs";
}

result<workspace_record> create_workspace_now(const state_store& store,
                                              const std::string& id,
                                              const create_request& request,
                                              const progress_fn& progress) {
  if (auto valid = validate(request); !valid)
    return valid.err();
  say(progress, "[create] phase=validate workspace_id=" + id);
  auto backend = vmm::select_backend(request.backend, request.allow_host_compat,
                                     vmm::cached_host_facts());
  if (!backend)
    return backend.err();
  if (request.network_policy != "off"
      && !(*backend)->capabilities().network_egress) {
    if ((*backend)->name() == "sandbox") // names what is missing
      if (auto slirp = vmm::find_slirp4netns(); !slirp)
        return slirp.err();
    return make_error(error_code::unavailable,
                      "the " + std::string{(*backend)->name()}
                        + " backend cannot give a workspace network policy '"
                        + request.network_policy + "'",
                      "use --network-policy off, or another backend");
  }
  // Until the record names it, the use lock keeps a prune from any home
  // sharing the cache from removing the environment under this create.
  vmm::environment_lock in_use;
  if ((*backend)->name() != "host")
    in_use = vmm::use_environment(store.home(), request.environment);
  // A missing environment is installed first (with progress), before
  // anything of the workspace is written; a VM also needs its images.
  bool vm = (*backend)->capabilities().vm;
  if ((*backend)->name() != "host"
      && (!vmm::environment_installed(request.environment)
          || (vm && !vmm::environment_vm_ready(request.environment))))
    if (auto pulled = vmm::pull_environment(
          request.environment, progress, false,
          vm ? vmm::vm_images_policy::always : vmm::vm_images_policy::never);
        !pulled)
      return pulled.err();
  if (store.exists(id))
    return make_error(error_code::already_exists,
                      "workspace '" + id + "' already exists");

  auto now = sys::unix_now();
  workspace_record record;
  record.workspace_id = id;
  record.name = request.name;
  record.labels = request.labels;
  record.environment = request.environment;
  record.vcpu_count = request.vcpu_count;
  record.mem_mib = request.mem_mib;
  record.disk_mib = request.disk_mib;
  record.ttl_seconds = request.ttl_seconds;
  record.created_at = now;
  record.last_activity_at = now;
  record.expires_at = request.ttl_seconds > 0
                        ? now + static_cast<double>(request.ttl_seconds)
                        : 0;
  record.state = "creating";
  record.kind = request.kind;
  record.network_policy = request.network_policy;
  record.backend = std::string{(*backend)->name()};
  record.execution_mode = std::string{(*backend)->execution_mode()};
  for (const auto& s : request.secrets)
    record.secrets.push_back({s.name, s.source_kind});
  sys::file_lock lock; // released after the guard has done its work
  // Armed before anything exists: it also undoes a claim made just below,
  // before the record is written.
  teardown_guard guard{store, id};
  // A parked sandbox, if one fits, brings the workspace directory along,
  // already locked, with the baseline of its untouched /workspace.
  auto claimed = claim_parked(store, record);
  bool parked_baseline = claimed.has_value();
  if (claimed) {
    lock = std::move(claimed->lock);
  } else {
    store.remove_orphan_locks();
    auto taken = store.lock(id);
    if (!taken)
      return taken.err();
    lock = std::move(*taken);
  }
  // Only there so that a create killed half-way can be cleaned up; the
  // "started" record below is the durable one.
  if (auto saved = store.save_creating(record); !saved)
    return saved.err();
  if (auto kept = save_secret_values(store, id, request.secrets); !kept)
    return kept.err();

  std::error_code ec;
  std::optional<packed_archive> seed;
  if (!request.seed_path.empty()) {
    say(progress, "[create] phase=pack workspace_id=" + id);
    auto scratch = store.workspace_dir(id) / "tmp";
    fs::create_directories(scratch, ec);
    auto packed = pack_for_import(request.seed_path, scratch / "seed.tar");
    if (!packed)
      return packed.err();
    seed = std::move(*packed);
    record.seed = {seed->source_kind,
                   fs::absolute(request.seed_path).lexically_normal().string()};
  }

  say(progress,
      "[create] phase=boot workspace_id=" + id + " backend=" + record.backend);
  auto sandbox = start_sandbox(store, record, std::move(claimed));
  if (!sandbox)
    return sandbox.err();
  if (seed) {
    say(progress, "[create] phase=seed workspace_id=" + id
                    + " entries=" + std::to_string(seed->entries));
    if (auto up = sandbox->ready(); !up)
      return up.err();
    if (auto imported = sandbox->link->import_tar(seed->tar_path, "/workspace", 0);
        !imported)
      return imported.err();
    fs::remove(seed->tar_path, ec);
  }

  say(progress, "[create] phase=baseline workspace_id=" + id);
  if (seed || !parked_baseline)
    if (auto taken = take_baseline(*sandbox->link, baseline_dir(store, id));
        !taken)
      return taken.err();

  record.state = "started";
  record.last_activity_at = sys::unix_now();
  // Shown in the reply; never stored (status asks the backend again).
  record.disk_limited
    = (*backend)->disk_limited(sandbox_spec_for(store, record));
  if (auto saved = store.save(record); !saved)
    return saved.err();
  // A claimed sandbox's agent started while the record was written.
  if (auto up = sandbox->ready(); !up)
    return up.err();
  guard.dismiss();
  say(progress, "[create] phase=ready workspace_id=" + id);
  return record;
}

result<std::unique_ptr<agent_link>> boot_workspace(const state_store& store,
                                                   const workspace_record& r) {
  auto backend = backend_of(r);
  if (!backend)
    return backend.err();
  auto spec = sandbox_spec_for(store, r);
  vmm::environment_lock in_use;
  if ((*backend)->name() != "host") { // host-compat runs on the host's files
    in_use = vmm::use_environment(store.home(), r.environment);
    auto rootfs = installed_rootfs(r.environment);
    if (!rootfs)
      return rootfs.err();
    spec.rootfs = *rootfs;
  }
  auto agent = vmm::agent_binary();
  if (!agent)
    return agent.err();
  spec.agent_binary = *agent;
  forget_published_ports(store, r); // a new sandbox has no forwards
  auto endpoint = (*backend)->boot(spec);
  if (!endpoint)
    return endpoint.err();
  return link_to_new_sandbox(store, r, *endpoint);
}

status new_sandbox::ready() {
  if (!pending)
    return {};
  auto answer = pending->wait(std::chrono::seconds{10});
  pending.reset();
  return answer;
}

status take_baseline(agent_link& link, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto tar = dir / "workspace.tar";
  if (auto exported = link.export_tar("/workspace", tar); !exported)
    return exported.err();
  if (auto synced = sys::sync_file(tar); !synced)
    return synced;
  auto walk = link.walk();
  if (!walk)
    return walk.err();
  return sys::write_file_atomic(dir / "manifest.json",
                                dump_json(to_json(*walk)), 0600);
}

std::optional<claimed_slot> claim_parked(const state_store& store,
                                         const workspace_record& r) {
  if (r.backend != "sandbox" || r.network_policy != "off")
    return std::nullopt;
  auto claimed = sandbox_pool{store}.claim(
    {r.environment, r.vcpu_count, r.mem_mib, r.disk_mib}, r.workspace_id);
  if (!claimed)
    return std::nullopt; // it destroyed what it took: boot instead
  return std::move(*claimed);
}

result<new_sandbox> start_sandbox(const state_store& store,
                                  const workspace_record& r,
                                  std::optional<claimed_slot> claimed) {
  if (!claimed) {
    auto link = boot_workspace(store, r);
    if (!link)
      return link.err();
    return new_sandbox{std::move(*link), std::nullopt};
  }
  auto endpoint = claimed->ticket.endpoint;
  new_sandbox out{nullptr, std::move(claimed->ticket)};
  if (!r.secrets.empty()) // they go to the agent, which must run first
    if (auto up = out.ready(); !up)
      return up.err();
  auto link = link_to_new_sandbox(store, r, endpoint);
  if (!link)
    return link.err();
  out.link = std::move(*link);
  return out;
}

result<std::unique_ptr<agent_link>> open_agent(const state_store& store,
                                               const workspace_record& r) {
  if (r.state != "started")
    return make_error(error_code::failed_precondition,
                      "workspace '" + r.workspace_id + "' is " + r.state,
                      r.state == "stopped"
                        ? "start it with `pyro workspace start "
                            + r.workspace_id + "`"
                        : "wait for it, or delete it");
  auto backend = backend_of(r);
  if (!backend)
    return backend.err();
  auto endpoint = (*backend)->endpoint(sandbox_spec_for(store, r));
  if (!endpoint)
    return endpoint.err();
  auto link = connect_agent(*endpoint);
  if (!link)
    return link.err();
  if (auto answers = check_answers(**link, r.workspace_id); !answers)
    return answers.err();
  return link;
}

status check_answers(agent_link& link, const std::string& id) {
  // One round trip, on the connection the next call reuses.
  auto hello = link.call("hello", json::object(),
                         std::chrono::milliseconds{agent_answer_deadline});
  if (!hello)
    return make_error(error_code::unavailable,
                      "the agent of workspace '" + id + "' does not answer ("
                        + hello.err().message + ")",
                      restart_hint(id));
  return {};
}

std::string restart_hint(const std::string& id) {
  return "the agent does not answer; run `pyro workspace stop " + id
         + "` then `pyro workspace start " + id + "` (this keeps /workspace)";
}

bool sandbox_gone(const state_store& store, const workspace_record& r) {
  if (r.state != "started")
    return false;
  auto backend = backend_of(r);
  return backend && !(*backend)->running(sandbox_spec_for(store, r));
}

bool show_if_expired(workspace_record& r) {
  if (r.expires_at <= 0 || r.expires_at > sys::unix_now()
      || (r.state != "started" && r.state != "stopped"))
    return false;
  r.state = "expired";
  r.hint = "its TTL ran out; `pyro workspace reap` deletes expired "
           "workspaces, `pyro workspace update "
           + r.workspace_id + " --ttl-seconds N` keeps it N more seconds";
  return true;
}

bool show_if_gone(const state_store& store, workspace_record& r) {
  if (!sandbox_gone(store, r))
    return false;
  r.state = "agent_gone";
  r.hint = "the sandbox's agent is gone; run `pyro workspace start "
           + r.workspace_id + "` (this keeps /workspace)";
  return true;
}

result<exec_result> exec_in_workspace(const state_store& store,
                                      const std::string& id,
                                      const exec_request& request) {
  if (request.command.empty())
    return make_error(error_code::invalid_argument, "command is empty");
  if (request.timeout_seconds < 1 || request.timeout_seconds > 86400)
    return make_error(error_code::invalid_argument,
                      "timeout_seconds must be 1-86400");
  auto record = store.load(id);
  if (!record)
    return record.err();
  exec_request resolved = request;
  auto secret_env = secret_env_map(*record, request.secret_env);
  if (!secret_env)
    return secret_env.err();
  resolved.secret_env_map = std::move(*secret_env);
  auto link = open_agent(store, *record);
  if (!link)
    return link.err();
  auto secrets = redactor::for_workspace(store, *record);
  if (!secrets)
    return secrets.err();
  auto started = sys::unix_now();
  auto outcome = (*link)->exec(resolved);
  if (!outcome)
    return outcome.err(); // redacted where the reply leaves the actor
  exec_result out;
  out.workspace_id = id;
  out.command = request.command;
  out.cwd = request.cwd;
  out.execution_mode = record->execution_mode;
  out.outcome = std::move(*outcome);
  // Secret values never reach the journal, nor the caller; the same
  // redaction runs again on the way out, which finds nothing more.
  redact(*secrets, out);
  journal_entry entry;
  entry.command = out.command;
  entry.cwd = out.cwd;
  entry.exit_code = out.outcome.exit_code;
  entry.signal = out.outcome.signal;
  entry.timed_out = out.outcome.timed_out;
  entry.duration_ms = out.outcome.duration_ms;
  entry.started_at = started;
  entry.stdout_text = out.outcome.stdout_text;
  entry.stderr_text = out.outcome.stderr_text;
  entry.truncated = out.outcome.truncated;
  // Numbered once it has run, under the lock, so concurrent execs from any
  // process get distinct numbers; the record itself is not rewritten.
  auto lock = store.lock(id);
  if (!lock)
    return lock.err();
  auto current = store.load(id); // its count, as of now
  if (!current && current.err().code == error_code::not_found)
    return out; // deleted while the command ran: nowhere to journal it
  if (!current)
    return current.err();
  auto sequence = journal{store.workspace_dir(id) / "commands"}.append_next(
    entry, current->command_count);
  if (!sequence)
    return sequence.err();
  out.sequence = *sequence;
  if (auto noted = store.activity_of(id).write({*sequence, sys::unix_now()});
      !noted)
    return noted.err();
  return out;
}

} // namespace pyro
