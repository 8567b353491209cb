#pragma once

// The C++ SDK: the one facade through which the CLI, the MCP server and the
// Python binding reach the actor runtime. Method names follow the public
// contract (frontends/contract); every result converts to the JSON that
// `--json` and MCP return.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caf/scoped_actor.hpp"

#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "messages/workspace_record.hpp"
#include "messages/workspace_requests.hpp"
#include "messages/workspace_results.hpp"
#include "vmm/environment_install.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/environment_prune.hpp"
#include "vmm/environments/registry_install.hpp"
#include "vmm/host_facts.hpp"

namespace pyro {

class runtime;

struct pyro_options {
  /// State directory; empty = PYRO_HOME or ~/.local/share/pyro.
  std::filesystem::path home;
  /// Upper bound on any one call into the runtime.
  std::chrono::milliseconds timeout = std::chrono::minutes{10};
  /// Sandboxes kept parked so that creates on the sandbox backend start in
  /// a few milliseconds; drained when this object goes. Below 0:
  /// PYRO_SANDBOX_POOL, else 1.
  int sandbox_pool = -1;
};

struct environment_entry {
  vmm::environment_spec spec;
  bool installed = false;
};

struct environment_list {
  std::string catalog_version;
  std::vector<environment_entry> environments;
};

struct capability {
  std::string name;
  bool available = false;
  std::string reason;
};

struct doctor_report {
  vmm::host_facts host;
  std::vector<vmm::backend_availability> backends;
  std::vector<capability> capabilities;
  std::filesystem::path pyro_home;
  std::filesystem::path environment_cache;
  /// True when some isolating backend can run a workspace.
  bool runtime_ok = false;
};

struct delete_result {
  std::string workspace_id;
  bool deleted = false;
};

/// What `exec_vm` and `run_in_vm` return: the command's outcome and the
/// clean-up that followed it.
struct vm_run_result {
  std::string vm_id;
  std::string environment;
  exec_result exec;
  bool deleted = false;
};

struct shell_options {
  std::string cwd = "/workspace";
  int cols = 120;
  int rows = 30;
  /// NAME or NAME=ENV: secrets exposed to the shell's environment.
  std::vector<std::string> secret_env;
};

struct shell_read_options {
  uint64_t cursor = 0;
  uint64_t max_chars = 65536;
  /// Strip ANSI sequences, apply carriage returns and backspaces.
  bool plain = false;
  /// Wait until output has been quiet this long (0 = do not wait).
  int wait_for_idle_ms = 0;
};

struct service_options {
  std::string command;
  std::string cwd = "/workspace";
  /// {"type": "file"|"tcp"|"http"|"command", "path"|"address"|"url"|
  /// "command": ...}; null for none.
  nlohmann::json readiness;
  double ready_timeout_seconds = 30;
  int ready_interval_ms = 500;
  /// HOST:GUEST ports published on 127.0.0.1.
  std::vector<std::string> published_ports;
  std::vector<std::string> secret_env;
};

struct reap_result {
  std::vector<std::string> deleted;
  /// Expired workspaces that could not be deleted, with why.
  std::vector<std::pair<std::string, error>> failed;
};

nlohmann::json to_json(const environment_list& list);
nlohmann::json to_json(const doctor_report& report);
nlohmann::json to_json(const delete_result& result);
nlohmann::json to_json(const reap_result& result);
nlohmann::json to_json(const vm_run_result& result);

/// The SDK facade. Thread-safe: each call uses its own short-lived scoped
/// actor.
class Pyro {
public:
  Pyro();
  explicit Pyro(pyro_options options);
  ~Pyro();

  Pyro(const Pyro&) = delete;
  Pyro& operator=(const Pyro&) = delete;

  /// The environment catalog; `include_test` adds pyro's test environments.
  result<environment_list> list_environments(bool include_test = false);

  /// Installs an environment (built locally) unless it already is.
  result<vmm::install_info> pull_environment(const std::string& name,
                                             progress_fn progress = {},
                                             bool force = false);

  /// Publishes an installed environment to an OCI registry reference.
  result<vmm::push_report> push_environment(const std::string& name,
                                            const std::string& reference,
                                            progress_fn progress = {});

  /// What is installed for an environment.
  result<vmm::install_info> inspect_environment(const std::string& name);

  /// Removes installed environments that are stale, or unused by every
  /// PYRO_HOME sharing the cache and not the default one, with leftovers
  /// of interrupted pulls and unlisted blobs; `dry_run` only reports.
  result<vmm::prune_report> prune_environments(bool dry_run = false);

  /// Host facts, backends and capabilities, probed now.
  result<doctor_report> doctor();

  /// Every workspace, most recently active first; unreadable ones are marked.
  result<std::vector<workspace_entry>> list_workspaces();

  result<workspace_record> status_workspace(const std::string& workspace_id);

  result<delete_result> delete_workspace(const std::string& workspace_id);

  /// Creates and starts a workspace; `progress` receives "[create] ..."
  /// lines while it boots and seeds.
  result<workspace_record> create_workspace(const create_request& request,
                                            progress_fn progress = {});

  /// Runs a command in /workspace and journals it.
  result<exec_result> exec_workspace(const std::string& workspace_id,
                                     const exec_request& request);

  /// Copies a host directory or .tar/.tar.gz/.tgz into the workspace.
  result<sync_result> push_workspace_sync(const std::string& workspace_id,
                                          const std::string& source_path,
                                          const std::string& dest
                                          = "/workspace");

  /// Copies a file, directory or symlink out to a host path.
  result<export_result> export_workspace(const std::string& workspace_id,
                                         const std::string& path,
                                         const std::string& output_path,
                                         bool overwrite = false);

  /// /workspace against the baseline taken at create.
  result<workspace_diff> diff_workspace(const std::string& workspace_id);

  result<std::vector<file_info>>
  list_workspace_files(const std::string& workspace_id,
                       const std::string& path = "/workspace",
                       bool recursive = false);

  result<file_read_result> read_workspace_file(const std::string& workspace_id,
                                               const std::string& path,
                                               uint64_t max_bytes = 65536);

  status write_workspace_file(const std::string& workspace_id,
                              const std::string& path, const std::string& text);

  /// Applies a unified diff; nothing changes unless every hunk applies.
  result<patch_result> apply_workspace_patch(const std::string& workspace_id,
                                             const std::string& patch);

  /// The exec journal, oldest first.
  result<std::vector<journal_entry>>
  logs_workspace(const std::string& workspace_id);

  /// Stops the sandbox, keeping /workspace.
  result<workspace_record> stop_workspace(const std::string& workspace_id);

  /// Boots a stopped workspace again.
  result<workspace_record> start_workspace(const std::string& workspace_id);

  result<snapshot_info> create_snapshot(const std::string& workspace_id,
                                        const std::string& name);

  result<std::vector<snapshot_info>>
  list_snapshots(const std::string& workspace_id);

  status delete_snapshot(const std::string& workspace_id,
                         const std::string& name);

  /// Rebuilds the sandbox from the baseline or a snapshot.
  result<workspace_record> reset_workspace(const std::string& workspace_id,
                                           const std::string& snapshot
                                           = "baseline");

  /// Creates and starts a one-shot sandbox (kind vm).
  result<workspace_record> create_vm(create_request request,
                                     progress_fn progress = {});

  /// Runs one command in a VM, then deletes the VM whatever the outcome.
  result<vm_run_result> exec_vm(const std::string& vm_id,
                                const exec_request& request);

  /// create_vm, then exec_vm.
  result<vm_run_result> run_in_vm(create_request request,
                                  const exec_request& exec,
                                  progress_fn progress = {});

  /// Deletes every workspace whose TTL has run out (expires_at in the past;
  /// a TTL of 0 never expires).
  result<reap_result> reap_expired();

  // Shells and services return the JSON objects of docs/protocol.md (with
  // workspace_id added, secret values redacted).

  /// Opens a PTY shell; the result's `shell_id` names it from then on.
  result<nlohmann::json> open_shell(const std::string& workspace_id,
                                    const shell_options& options = {});

  /// Output from a cursor: `output`, `next_cursor`, `truncated`, `state`,
  /// `exit_code`.
  result<nlohmann::json> read_shell(const std::string& workspace_id,
                                    const std::string& shell_id,
                                    const shell_read_options& options = {});

  result<nlohmann::json> write_shell(const std::string& workspace_id,
                                     const std::string& shell_id,
                                     const std::string& input,
                                     bool append_newline = true);

  /// HUP, INT, TERM or KILL to the shell's foreground process group.
  result<nlohmann::json> signal_shell(const std::string& workspace_id,
                                      const std::string& shell_id,
                                      const std::string& signal_name = "INT");

  result<nlohmann::json> close_shell(const std::string& workspace_id,
                                     const std::string& shell_id);

  /// Starts a service and waits until it is ready, running or failed.
  result<nlohmann::json> start_service(const std::string& workspace_id,
                                       const std::string& name,
                                       const service_options& options);

  result<nlohmann::json> list_services(const std::string& workspace_id);

  result<nlohmann::json> status_service(const std::string& workspace_id,
                                        const std::string& name);

  /// stdout and stderr, the last `tail_lines` lines of each when > 0.
  result<nlohmann::json> logs_service(const std::string& workspace_id,
                                      const std::string& name,
                                      int64_t tail_lines = 0);

  /// TERM, then KILL after a grace period.
  result<nlohmann::json> stop_service(const std::string& workspace_id,
                                      const std::string& name);

  /// Kills the command an exec with this `cancel_tag` is running, if any.
  result<nlohmann::json> cancel_exec(const std::string& workspace_id,
                                     const std::string& cancel_tag);

  // Disk tools read a stopped VM workspace's disk offline (runtime paths
  // under /run/pyro-* scrubbed first). Relative paths are under /workspace.

  /// `entries`: path, type, size, mode (as `list_workspace_files`).
  result<nlohmann::json> list_workspace_disk(const std::string& workspace_id,
                                             const std::string& path
                                             = "/workspace",
                                             bool recursive = false);

  /// `content`, `size_bytes`, `truncated`.
  result<nlohmann::json> read_workspace_disk(const std::string& workspace_id,
                                             const std::string& path,
                                             uint64_t max_bytes = 65536);

  /// Writes the raw ext4 image to `output_path`, which must not exist.
  result<nlohmann::json> export_workspace_disk(const std::string& workspace_id,
                                               const std::string& output_path);

  /// Renames a workspace and sets or clears labels; bumps last activity.
  result<workspace_record> update_workspace(const std::string& workspace_id,
                                            const workspace_update& change);

  [[nodiscard]] const std::filesystem::path& home() const noexcept {
    return home_;
  }

  /// The actor system the SDK runs on, for frontends that host actors of
  /// their own (the MCP server's sessions).
  caf::actor_system& system() noexcept;

private:
  /// Workspaces and VMs.
  result<std::vector<workspace_entry>> list_all();

  /// Finds the workspace actor and asks it one thing.
  template <class T, class... Ts>
  result<T> ask_workspace(const std::string& workspace_id, Ts&&... xs);

  /// A shell or service call (actors/guest_calls.hpp).
  result<nlohmann::json> guest(const std::string& workspace_id,
                               const std::string& op, nlohmann::json args);

  /// The workspace actor for an id, spawned or rehydrated by the registry.
  result<workspace_actor> find_workspace(caf::scoped_actor& self,
                                         const std::string& workspace_id);

  std::filesystem::path home_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<runtime> runtime_;
};

} // namespace pyro
