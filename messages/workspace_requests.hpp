#pragma once

// Requests and replies of the workspace actors' data plane.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pyro {

/// A secret as given at create: its value, literal or read from a host file.
struct secret_value {
  std::string name;
  std::string value;
  /// literal or file.
  std::string source_kind;
};

/// Everything `workspace create` accepts, with the documented defaults.
struct create_request {
  std::string environment;
  int32_t vcpu_count = 1;
  int32_t mem_mib = 1024;
  /// Room for what the workspace writes (its disk limit).
  int32_t disk_mib = 10240;
  int64_t ttl_seconds = 600;
  std::string network_policy = "off";
  bool allow_host_compat = false;
  /// Empty: PYRO_BACKEND, then auto.
  std::string backend;
  std::string seed_path;
  std::vector<secret_value> secrets;
  std::string name;
  std::map<std::string, std::string> labels;
  /// workspace or vm.
  std::string kind = "workspace";
};

struct exec_request {
  std::string command;
  std::string cwd = "/workspace";
  std::map<std::string, std::string> env;
  int32_t timeout_seconds = 30;
  /// `--secret-env NAME[=ENV]` as given; the workspace resolves it.
  std::vector<std::string> secret_env;
  /// ENV -> secret name, as the agent takes it (filled in by the workspace).
  std::map<std::string, std::string> secret_env_map;
  /// Names the running command for `exec_cancel` (MCP cancellation).
  std::string cancel_tag;
};

struct exec_outcome {
  int32_t exit_code = -1;
  int32_t signal = 0;
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
  bool truncated = false;
  int64_t duration_ms = 0;
};

/// One journalled exec.
struct exec_result {
  std::string workspace_id;
  int64_t sequence = 0;
  std::string command;
  std::string cwd;
  std::string execution_mode;
  exec_outcome outcome;
};

nlohmann::json to_json(const exec_result& result);

/// Receives progress lines such as "[create] phase=boot workspace_id=...".
using progress_fn = std::function<void(const std::string&)>;

/// Where long operations report progress lines. Travels only between actors
/// of one process.
struct progress_sink {
  progress_fn emit;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, secret_value& x) {
  // The value is deliberately not inspected: it must never be rendered.
  return f(x.name, x.source_kind);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_request& x) {
  return f(x.environment, x.vcpu_count, x.mem_mib, x.disk_mib, x.ttl_seconds,
           x.network_policy, x.allow_host_compat, x.backend, x.seed_path,
           x.secrets, x.name, x.labels, x.kind);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_request& x) {
  return f(x.command, x.cwd, x.env, x.timeout_seconds, x.secret_env,
           x.secret_env_map, x.cancel_tag);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_outcome& x) {
  return f(x.exit_code, x.signal, x.timed_out, x.stdout_text, x.stderr_text,
           x.truncated, x.duration_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_result& x) {
  return f(x.workspace_id, x.sequence, x.command, x.cwd, x.execution_mode,
           x.outcome);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, progress_sink&) {
  return f();
}

} // namespace pyro
