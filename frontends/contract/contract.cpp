#include "frontends/contract/contract.hpp"

namespace pyro::contract {

namespace {

using vt = value_type;

// -- parameter builders -------------------------------------------------------

param pos(std::string_view name, std::string_view description,
          vt type = vt::string) {
  param p;
  p.name = name;
  p.type = type;
  p.description = description;
  p.required = true;
  p.positional = true;
  return p;
}

param opt_pos(std::string_view name, std::string_view default_json,
              std::string_view description) {
  auto p = pos(name, description);
  p.required = false;
  p.default_json = default_json;
  return p;
}

param opt(std::string_view name, vt type, std::string_view default_json,
          std::string_view description) {
  param p;
  p.name = name;
  p.type = type;
  p.default_json = default_json;
  p.description = description;
  return p;
}

param req(std::string_view name, vt type, std::string_view description) {
  auto p = opt(name, type, {}, description);
  p.required = true;
  return p;
}

param with_flag(param p, std::string_view flag) {
  p.flag = flag;
  return p;
}

param cli_only(param p) {
  p.cli_only = true;
  p.required = false;
  return p;
}

param api_only(param p) {
  p.api_only = true;
  return p;
}

param full_only(param p) {
  p.full_only = true;
  return p;
}

param operator_only(param p) {
  p.operator_only = true;
  return p;
}

param host_input(param p, std::string_view member = {}) {
  p.host_path = host_access::read;
  p.host_path_member = member;
  return p;
}

param host_output(param p) {
  p.host_path = host_access::write;
  return p;
}

// -- shared parameters --------------------------------------------------------

param workspace_id() {
  return pos("workspace_id", "Workspace id, as printed by `workspace create` "
                             "and `workspace list`.");
}

param vm_id() {
  return req("vm_id", vt::string, "VM id, as returned by `vm_create`.");
}

param shell_id() {
  return pos("shell_id", "Shell id, as returned by `shell open`.");
}

param service_name() {
  return pos("service_name", "Service name given at `service start`.");
}

param environment() {
  return pos("environment", "Environment name from `env list`, e.g. "
                            "debian:12.");
}

param command() {
  return req("command", vt::command,
             "Command to run, as a shell string (on the CLI: the words "
             "after `--`).");
}

param vcpu_count() {
  return opt("vcpu_count", vt::integer, "1", "Virtual CPUs (1-32).");
}

param mem_mib() {
  return opt("mem_mib", vt::integer, "1024", "Memory in MiB (128-65536).");
}

param disk_mib() {
  return opt("disk_mib", vt::integer, "10240",
             "Disk limit in MiB for what the workspace writes (64-1048576); "
             "enforced on the sandbox backend when pyro runs as root.");
}

param ttl_seconds() {
  return opt("ttl_seconds", vt::integer, "600",
             "Seconds until the sandbox expires and `reap_expired` may "
             "delete it (0 = never).");
}

param timeout_seconds() {
  return opt("timeout_seconds", vt::integer, "30",
             "Seconds before the command's whole process group is killed.");
}

param allow_host_compat() {
  return operator_only(
    opt("allow_host_compat", vt::boolean, "false",
        "Allow running without isolation, as a host process confined to "
        "the workspace directory, when no sandbox backend works."));
}

param backend() {
  return operator_only(
    opt("backend", vt::string, "\"auto\"",
        "Isolation backend: auto, firecracker, qemu, sandbox or host "
        "(also PYRO_BACKEND). auto never picks host."));
}

param secret_env() {
  return full_only(with_flag(
    opt("secret_env", vt::string_list, {},
        "Secrets to expose as environment variables for this call only, as "
        "NAME or NAME=ENV_VAR."),
    "--secret-env"));
}

param recursive() {
  return opt("recursive", vt::boolean, "false", "Walk directories below PATH.");
}

param max_bytes() {
  return opt("max_bytes", vt::integer, "65536",
             "Read at most this many bytes.");
}

param content_only() {
  return cli_only(opt("content_only", vt::boolean, "false",
                      "Print only the file content, not the JSON envelope."));
}

param id_only() {
  return cli_only(opt("id_only", vt::boolean, "false", "Print only the id."));
}

param output_path() {
  return host_output(with_flag(
    req("output_path", vt::string, "Host path to write; refused if it exists."),
    "--output"));
}

param snapshot_name() {
  return pos("snapshot_name", "Snapshot name (letters, digits, '-', '_', "
                              "'.').");
}

constexpr unsigned core_and_full
  = workspace_core_profile | workspace_full_profile;

hints read_only() {
  return {true, false, true, false};
}

hints mutating() {
  return {false, false, false, false};
}

hints idempotent_mutation() {
  return {false, false, true, false};
}

hints destructive() {
  return {false, true, true, false};
}

hints open_world() {
  return {false, false, false, true};
}

std::vector<operation> build() {
  std::vector<operation> ops;
  auto add = [&](operation op) {
    ops.push_back(std::move(op));
  };

  // -- environments -----------------------------------------------------------
  add({"env list",
       "vm_list_environments",
       "list_environments",
       "List the environment catalog and what is installed.",
       "pyro env list --json",
       {cli_only(opt("all", vt::boolean, "false",
                     "Also list pyro's own test environments."))},
       workspace_full_profile,
       read_only(),
       {}});
  add({"env pull",
       {},
       "pull_environment",
       "Install an environment: pull it from an OCI registry when one is "
       "configured, otherwise build it locally from Debian packages.",
       "pyro env pull debian:12",
       {environment(),
        opt("force", vt::boolean, "false",
            "Build again even if already installed.")},
       no_profile,
       open_world(),
       "environment pull"});
  add({"env inspect",
       {},
       "inspect_environment",
       "Show an environment's source, digest, size, packages and path.",
       "pyro env inspect debian:12 --json",
       {environment()},
       no_profile,
       read_only(),
       "environment inspect"});
  add({"env prune",
       {},
       "prune_environments",
       "Remove stale environments, and those no workspace in any PYRO_HOME "
       "sharing the cache uses, except the default; say what went, what "
       "stayed and why.",
       "pyro env prune --dry-run",
       {opt("dry_run", vt::boolean, "false",
            "Only report what would be removed and why; remove nothing.")},
       no_profile,
       destructive(),
       "environment prune"});
  add({"env push",
       {},
       "push_environment",
       "Publish an installed environment to an OCI registry.",
       "pyro env push debian:12 127.0.0.1:5000/pyro/debian:12",
       {environment(),
        pos("reference", "Registry reference, HOST[:PORT]/REPO:TAG.")},
       no_profile,
       open_world(),
       "environment push"});

  // -- host -------------------------------------------------------------------
  add({"doctor",
       {},
       "doctor",
       "Check the host: platform, KVM, namespaces, each backend and why it "
       "is or is not usable.",
       "pyro doctor --json",
       {},
       no_profile,
       read_only(),
       {}});
  add(
    {"mcp serve",
     {},
     "create_server",
     "Serve the MCP protocol over stdio or Streamable HTTP.",
     "pyro mcp serve --profile workspace-core",
     {opt("profile", vt::string, "\"workspace-full\"",
          "Tool profile: vm-run, workspace-core or workspace-full."),
      cli_only(
        opt("transport", vt::string, "\"stdio\"", "Transport: stdio or http.")),
      cli_only(opt("host", vt::string, "\"127.0.0.1\"", "HTTP bind address.")),
      cli_only(opt("port", vt::integer, "8765", "HTTP port.")),
      cli_only(opt("backend", vt::string, "\"auto\"",
                   "Isolation backend for every sandbox the server creates: "
                   "auto, firecracker, qemu, sandbox or host (also "
                   "PYRO_BACKEND). Tool calls cannot choose it.")),
      cli_only(opt("allow_host_compat", vt::boolean, "false",
                   "Let `--backend host` run tool calls without isolation, "
                   "as host processes. Tool calls cannot choose it.")),
      cli_only(with_flag(
        opt("host_root", vt::string_list, {},
            "Host directory tool calls may read from and write to "
            "(seed, sync, secret files, exports); repeatable. Without it: "
            "the roots the client lists, else the stdio server's working "
            "directory, else none."),
        "--host-root"))},
     no_profile,
     mutating(),
     "MCP server"});
  add({"demo",
       {},
       {},
       "Walk through a workspace: create, sync, exec, diff, export, delete.",
       "pyro demo",
       {opt("network", vt::boolean, "false",
            "Also prove outbound network access from the sandbox.")},
       no_profile,
       mutating(),
       "workspace demo"});
  add({"demo ollama",
       {},
       {},
       "Drive a workspace from a local Ollama model.",
       "pyro demo ollama",
       {},
       no_profile,
       mutating(),
       "Ollama demo"});

  // -- the resident runtime ---------------------------------------------------
  add({"server start",
       {},
       {},
       "Start this PYRO_HOME's resident runtime in the background: later "
       "calls go through it and share its actors and its parked sandboxes.",
       "pyro server start",
       {},
       no_profile,
       mutating(),
       {}});
  add({"server status",
       {},
       {},
       "Show the resident runtime: pid, version, uptime, requests, "
       "workspaces, memory.",
       "pyro server status --json",
       {},
       no_profile,
       read_only(),
       {}});
  add({"server stop",
       {},
       {},
       "Stop the resident runtime once its calls in flight finish; sandboxes "
       "keep running and later calls serve themselves.",
       "pyro server stop",
       {},
       no_profile,
       mutating(),
       {}});
  add({"server run",
       {},
       {},
       "Run the resident runtime in the foreground (what `server start` "
       "runs detached, and what a service manager runs).",
       "pyro server run",
       {},
       no_profile,
       mutating(),
       {}});

  // -- one-shot ---------------------------------------------------------------
  add({"run",
       "vm_run",
       "run_in_vm",
       "Run one command in a fresh sandbox that is deleted afterwards.",
       "pyro run debian:12 -- git --version",
       {environment(), command(), vcpu_count(), mem_mib(), disk_mib(),
        timeout_seconds(),
        ttl_seconds(),
        opt("network", vt::boolean, "false", "Allow outbound network."),
        allow_host_compat(), backend()},
       vm_run_profile | workspace_full_profile,
       open_world(),
       "guest exec"});
  add({{},
       "vm_create",
       "create_vm",
       "Create and start a VM sandbox for later `vm_exec` calls.",
       {},
       {api_only(req("environment", vt::string, "Environment name.")),
        vcpu_count(), mem_mib(), disk_mib(), ttl_seconds(),
        opt("network", vt::boolean, "false", "Allow outbound network."),
        allow_host_compat(), backend()},
       workspace_full_profile,
       mutating(),
       "VM lifecycle"});
  add({{},
       "vm_start",
       "start_vm",
       "Start a stopped VM.",
       {},
       {vm_id()},
       workspace_full_profile,
       idempotent_mutation(),
       "VM lifecycle"});
  add({{},
       "vm_exec",
       "exec_vm",
       "Run one command in a VM, then delete the VM.",
       {},
       {vm_id(), command(), timeout_seconds()},
       workspace_full_profile,
       destructive(),
       "VM lifecycle"});
  add({{},
       "vm_stop",
       "stop_vm",
       "Stop a VM.",
       {},
       {vm_id()},
       workspace_full_profile,
       idempotent_mutation(),
       "VM lifecycle"});
  add({{},
       "vm_delete",
       "delete_vm",
       "Delete a VM.",
       {},
       {vm_id()},
       workspace_full_profile,
       destructive(),
       "VM lifecycle"});
  add({{},
       "vm_status",
       "status_vm",
       "Show a VM's state.",
       {},
       {vm_id()},
       workspace_full_profile,
       read_only(),
       "VM lifecycle"});
  add({{},
       "vm_network_info",
       "network_info_vm",
       "Show a VM's network configuration.",
       {},
       {vm_id()},
       workspace_full_profile,
       read_only(),
       "VM lifecycle"});
  add({"workspace reap",
       "vm_reap_expired",
       "reap_expired",
       "Delete every VM and workspace whose TTL has expired.",
       "pyro workspace reap --json",
       {},
       workspace_full_profile,
       destructive(),
       "TTL reaping"});

  // -- workspace lifecycle ----------------------------------------------------
  add({"workspace create",
       "workspace_create",
       "create_workspace",
       "Create and start a persistent workspace, optionally seeded from a "
       "host directory or archive.",
       "pyro workspace create debian:12 --seed-path ./repo --name fix "
       "--label issue=123",
       {environment(), vcpu_count(), mem_mib(), disk_mib(), ttl_seconds(),
        host_input(opt("seed_path", vt::string, {},
                       "Host directory or .tar/.tar.gz/.tgz archive that "
                       "fills /workspace.")),
        opt("name", vt::string, {}, "A name for people."),
        with_flag(
          opt("labels", vt::string_map, {}, "Labels as K=V (repeatable)."),
          "--label"),
        full_only(opt("network_policy", vt::string, "\"off\"",
                      "off, egress or egress+published-ports.")),
        full_only(api_only(host_input(
          opt("secrets", vt::json, {},
              "Secrets as [{\"name\", \"value\"} or {\"name\", "
              "\"file_path\"}]; values are never stored in records or shown "
              "in output."),
          "file_path"))),
        full_only(cli_only(
          with_flag(opt("secret", vt::string_list, {}, "Secret as NAME=VALUE."),
                    "--secret"))),
        full_only(
          cli_only(with_flag(opt("secret_file", vt::string_list, {},
                                 "Secret read from a host file, as NAME=PATH."),
                             "--secret-file"))),
        allow_host_compat(), backend(), id_only()},
       core_and_full,
       mutating(),
       "workspace create"});
  add({"workspace list",
       "workspace_list",
       "list_workspaces",
       "List workspaces, most recently active first, with state and expiry.",
       "pyro workspace list --json",
       {},
       core_and_full,
       read_only(),
       {}});
  add({"workspace update",
       "workspace_update",
       "update_workspace",
       "Rename a workspace, change its labels or give it a new TTL "
       "counted from now (which brings an expired workspace back).",
       "pyro workspace update WS --name fix --label owner=me "
       "--clear-label issue --ttl-seconds 3600",
       {workspace_id(), opt("name", vt::string, {}, "New name."),
        with_flag(opt("labels", vt::string_map, {},
                      "Labels to set, as K=V (repeatable)."),
                  "--label"),
        with_flag(opt("clear_labels", vt::string_list, {},
                      "Label keys to remove (repeatable)."),
                  "--clear-label"),
        opt("ttl_seconds", vt::integer, {},
            "New TTL in seconds, counted from now (0 = never expires).")},
       core_and_full,
       idempotent_mutation(),
       "workspace update"});
  add({"workspace status",
       "workspace_status",
       "status_workspace",
       "Show a workspace's record: state, expiry, counts, seed. A started "
       "workspace whose agent does not answer shows as unresponsive, one "
       "whose sandbox is gone as agent_gone, one past its TTL as expired, "
       "and a create that was interrupted as failed with its reason; each "
       "with a hint saying what to do.",
       "pyro workspace status WS --json",
       {workspace_id()},
       core_and_full,
       read_only(),
       {}});
  add({"workspace logs",
       "workspace_logs",
       "logs_workspace",
       "Show the journal of every exec in a workspace.",
       "pyro workspace logs WS",
       {workspace_id()},
       core_and_full,
       read_only(),
       "exec journal"});
  add({"workspace delete",
       "workspace_delete",
       "delete_workspace",
       "Delete a workspace and everything it holds.",
       "pyro workspace delete WS",
       {workspace_id()},
       core_and_full,
       destructive(),
       {}});
  add({"workspace start",
       "workspace_start",
       "start_workspace",
       "Start a stopped workspace.",
       "pyro workspace start WS",
       {workspace_id()},
       workspace_full_profile,
       idempotent_mutation(),
       "workspace start"});
  add({"workspace stop",
       "workspace_stop",
       "stop_workspace",
       "Stop a workspace, keeping /workspace.",
       "pyro workspace stop WS",
       {workspace_id()},
       workspace_full_profile,
       idempotent_mutation(),
       "workspace stop"});

  // -- data plane -------------------------------------------------------------
  add({"workspace exec",
       "workspace_exec",
       "exec_workspace",
       "Run a command in /workspace and journal it.",
       "pyro workspace exec WS --timeout-seconds 60 -- make test",
       {workspace_id(), command(), timeout_seconds(), secret_env()},
       core_and_full,
       mutating(),
       "guest exec"});
  add({"workspace sync push",
       "workspace_sync_push",
       "push_workspace_sync",
       "Copy a host directory or archive into the workspace.",
       "pyro workspace sync push WS ./changes --dest /workspace/src",
       {workspace_id(),
        host_input(
          pos("source_path", "Host directory or .tar/.tar.gz/.tgz archive.")),
        opt("dest", vt::string, "\"/workspace\"",
            "Destination under /workspace.")},
       core_and_full,
       mutating(),
       "guest archive import"});
  add({"workspace export",
       "workspace_export",
       "export_workspace",
       "Copy a file, directory or symlink from /workspace to the host.",
       "pyro workspace export WS dist --output ./dist",
       {workspace_id(), pos("path", "Path under /workspace."), output_path(),
        opt("overwrite", vt::boolean, "false",
            "Replace the output path if it exists.")},
       core_and_full,
       mutating(),
       "guest archive export"});
  add({"workspace diff",
       "workspace_diff",
       "diff_workspace",
       "Compare /workspace with the immutable baseline taken at create.",
       "pyro workspace diff WS",
       {workspace_id()},
       core_and_full,
       read_only(),
       "workspace diff"});
  add(
    {"workspace file list",
     "workspace_file_list",
     "list_workspace_files",
     "List files under a workspace path.",
     "pyro workspace file list WS src --recursive",
     {workspace_id(),
      opt_pos("path", "\"/workspace\"", "Path under /workspace."), recursive()},
     core_and_full,
     read_only(),
     "guest files"});
  add({"workspace file read",
       "workspace_file_read",
       "read_workspace_file",
       "Read a file from the workspace.",
       "pyro workspace file read WS note.txt --content-only",
       {workspace_id(), pos("path", "Path under /workspace."), max_bytes(),
        content_only()},
       core_and_full,
       read_only(),
       "guest files"});
  add({"workspace file write",
       "workspace_file_write",
       "write_workspace_file",
       "Write a text file in the workspace, creating parent directories.",
       "pyro workspace file write WS note.txt --text 'hello'",
       {workspace_id(), pos("path", "Path under /workspace."),
        opt("text", vt::string, {}, "The file's new content."),
        host_input(cli_only(opt("text_file", vt::string, {},
                                "Host file whose content to write.")))},
       core_and_full,
       idempotent_mutation(),
       "guest files"});
  add({"workspace patch apply",
       "workspace_patch_apply",
       "apply_workspace_patch",
       "Apply a unified diff; nothing changes unless every hunk applies.",
       "pyro workspace patch apply WS --patch-file fix.patch",
       {workspace_id(), opt("patch", vt::string, {}, "Unified diff text."),
        host_input(cli_only(opt("patch_file", vt::string, {},
                                "Host file holding the unified diff.")))},
       core_and_full,
       mutating(),
       "patch apply"});

  // -- shells -----------------------------------------------------------------
  add({"workspace shell open",
       "shell_open",
       "open_shell",
       "Open a persistent PTY shell in the workspace.",
       "pyro workspace shell open WS --cols 120 --rows 30 --id-only",
       {workspace_id(),
        opt("cwd", vt::string, "\"/workspace\"", "Working directory."),
        opt("cols", vt::integer, "120", "Terminal columns."),
        opt("rows", vt::integer, "30", "Terminal rows."), secret_env(),
        id_only()},
       workspace_full_profile,
       mutating(),
       "PTY shells"});
  add({"workspace shell read",
       "shell_read",
       "read_shell",
       "Read a shell's output from a cursor.",
       "pyro workspace shell read WS SH --cursor 0 --plain "
       "--wait-for-idle-ms 300",
       {workspace_id(), shell_id(),
        opt("cursor", vt::integer, "0", "Offset to read from."),
        opt("max_chars", vt::integer, "65536", "Read at most this much."),
        opt("plain", vt::boolean, "false",
            "Strip ANSI sequences and apply carriage returns and "
            "backspaces."),
        opt("wait_for_idle_ms", vt::integer, {},
            "Wait until output has been quiet this long.")},
       workspace_full_profile,
       read_only(),
       "PTY shells"});
  add({"workspace shell write",
       "shell_write",
       "write_shell",
       "Type input into a shell.",
       "pyro workspace shell write WS SH --input 'ls -la'",
       {workspace_id(), shell_id(), req("input", vt::string, "Text to send."),
        with_flag(opt("append_newline", vt::boolean, "true",
                      "Send a newline after the input (CLI: --no-newline "
                      "turns it off)."),
                  "--no-newline")},
       workspace_full_profile,
       mutating(),
       "PTY shells"});
  add({"workspace shell signal",
       "shell_signal",
       "signal_shell",
       "Send HUP, INT, TERM or KILL to a shell's foreground process group.",
       "pyro workspace shell signal WS SH --signal INT",
       {workspace_id(), shell_id(),
        with_flag(
          opt("signal_name", vt::string, "\"INT\"", "HUP, INT, TERM or KILL."),
          "--signal")},
       workspace_full_profile,
       mutating(),
       "PTY shells"});
  add({"workspace shell close",
       "shell_close",
       "close_shell",
       "Close a shell and end its processes.",
       "pyro workspace shell close WS SH",
       {workspace_id(), shell_id()},
       workspace_full_profile,
       destructive(),
       "PTY shells"});

  // -- services ---------------------------------------------------------------
  add({"workspace service start",
       "service_start",
       "start_service",
       "Start a named long-running process with a readiness probe.",
       "pyro workspace service start WS web --ready-http "
       "http://127.0.0.1:8000/ -- python3 -m http.server",
       {workspace_id(), service_name(), command(),
        opt("cwd", vt::string, "\"/workspace\"", "Working directory."),
        api_only(opt("readiness", vt::json, {},
                     "Probe: {\"type\": \"file\"|\"tcp\"|\"http\"|"
                     "\"command\", \"path\"|\"address\"|\"url\"|"
                     "\"command\": ...}.")),
        cli_only(
          opt("ready_file", vt::string, {}, "Ready when this file exists.")),
        cli_only(opt("ready_tcp", vt::string, {},
                     "Ready when HOST:PORT accepts a connection.")),
        cli_only(opt("ready_http", vt::string, {},
                     "Ready when this URL answers 2xx/3xx.")),
        cli_only(opt("ready_command", vt::string, {},
                     "Ready when this command exits 0.")),
        opt("ready_timeout_seconds", vt::integer, "30",
            "Seconds before an unready service is marked failed."),
        opt("ready_interval_ms", vt::integer, "500",
            "Milliseconds between probes."),
        with_flag(opt("published_ports", vt::string_list, {},
                      "Publish HOST:GUEST on 127.0.0.1 (needs network "
                      "policy egress+published-ports)."),
                  "--publish"),
        secret_env()},
       workspace_full_profile,
       mutating(),
       "services"});
  add({"workspace service list",
       "service_list",
       "list_services",
       "List a workspace's services.",
       "pyro workspace service list WS",
       {workspace_id()},
       workspace_full_profile,
       read_only(),
       "services"});
  add({"workspace service status",
       "service_status",
       "status_service",
       "Show one service's state and readiness.",
       "pyro workspace service status WS web",
       {workspace_id(), service_name()},
       workspace_full_profile,
       read_only(),
       "services"});
  add({"workspace service logs",
       "service_logs",
       "logs_service",
       "Show a service's output.",
       "pyro workspace service logs WS web --tail-lines 50",
       {workspace_id(), service_name(),
        opt("tail_lines", vt::integer, {}, "Only the last N lines.")},
       workspace_full_profile,
       read_only(),
       "services"});
  add({"workspace service stop",
       "service_stop",
       "stop_service",
       "Stop a service: TERM, then KILL after a grace period.",
       "pyro workspace service stop WS web",
       {workspace_id(), service_name()},
       workspace_full_profile,
       destructive(),
       "services"});

  // -- snapshots and reset ----------------------------------------------------
  add({"workspace snapshot create",
       "snapshot_create",
       "create_snapshot",
       "Save /workspace as a named snapshot.",
       "pyro workspace snapshot create WS checkpoint",
       {workspace_id(), snapshot_name()},
       workspace_full_profile,
       mutating(),
       "snapshots"});
  add({"workspace snapshot list",
       "snapshot_list",
       "list_snapshots",
       "List a workspace's snapshots.",
       "pyro workspace snapshot list WS",
       {workspace_id()},
       workspace_full_profile,
       read_only(),
       "snapshots"});
  add({"workspace snapshot delete",
       "snapshot_delete",
       "delete_snapshot",
       "Delete a snapshot.",
       "pyro workspace snapshot delete WS checkpoint",
       {workspace_id(), snapshot_name()},
       workspace_full_profile,
       destructive(),
       "snapshots"});
  add({"workspace reset",
       "workspace_reset",
       "reset_workspace",
       "Rebuild the sandbox from the baseline or a snapshot; clears the "
       "journal, shells and services.",
       "pyro workspace reset WS --snapshot checkpoint",
       {workspace_id(), opt("snapshot", vt::string, "\"baseline\"",
                            "Snapshot name, or baseline.")},
       core_and_full,
       destructive(),
       "workspace reset"});

  // -- offline disk -----------------------------------------------------------
  add({"workspace disk list",
       "workspace_disk_list",
       "list_workspace_disk",
       "List files in a stopped VM workspace's disk image.",
       "pyro workspace disk list WS /workspace --recursive",
       {workspace_id(), opt_pos("path", "\"/workspace\"", "Guest path."),
        recursive()},
       workspace_full_profile,
       read_only(),
       "disk tools"});
  add(
    {"workspace disk read",
     "workspace_disk_read",
     "read_workspace_disk",
     "Read a file from a stopped VM workspace's disk image.",
     "pyro workspace disk read WS /workspace/note.txt",
     {workspace_id(), pos("path", "Guest path."), max_bytes(), content_only()},
     workspace_full_profile,
     read_only(),
     "disk tools"});
  add({"workspace disk export",
       "workspace_disk_export",
       "export_workspace_disk",
       "Export a stopped VM workspace's raw ext4 disk image.",
       "pyro workspace disk export WS --output ./disk.ext4",
       {workspace_id(), output_path()},
       workspace_full_profile,
       mutating(),
       "disk tools"});
  return ops;
}

template <class Key>
const operation* find_by(std::string_view value, Key key) {
  if (value.empty())
    return nullptr;
  for (const auto& op : operations())
    if (op.*key == value)
      return &op;
  return nullptr;
}

} // namespace

std::string param::cli_flag() const {
  if (!flag.empty())
    return std::string{flag};
  std::string out = "--";
  for (char c : name)
    out += c == '_' ? '-' : c;
  return out;
}

const std::vector<operation>& operations() {
  static const std::vector<operation> ops = build();
  return ops;
}

const operation* find_cli(std::string_view words) {
  return find_by(words, &operation::cli);
}

std::vector<std::string> cli_words(std::string_view cli) {
  std::vector<std::string> out;
  std::string word;
  for (char c : cli) {
    if (c != ' ') {
      word += c;
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty())
    out.push_back(std::move(word));
  return out;
}

const operation* find_tool(std::string_view name) {
  return find_by(name, &operation::tool);
}

const operation* find_method(std::string_view name) {
  return find_by(name, &operation::method);
}

} // namespace pyro::contract
