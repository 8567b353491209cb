#pragma once

// How exec, shells, services and command probes start a process: argv or a
// shell string, a cwd beneath /workspace, an environment with the secrets a
// call asks for, all prepared before fork so the child only calls
// async-signal-safe functions.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

class launch_plan {
public:
  launch_plan() = default;
  launch_plan(const launch_plan&) = delete;
  launch_plan& operator=(const launch_plan&) = delete;
  ~launch_plan();

  std::vector<std::string> argv;
  std::vector<std::string> env;
  /// Guest path of the working directory.
  std::string cwd;
  /// Descriptor of the working directory, owned.
  int cwd_fd = -1;
  /// cgroup.procs of the group the child joins before exec (not owned; -1
  /// for none).
  int cgroup_procs = -1;

  /// Builds the C arrays; call once, before fork.
  void seal();

  /// In the child after fork: join the group, chdir, default signals,
  /// execve. Never returns.
  [[noreturn]] void exec_child() const noexcept;

private:
  std::vector<char*> c_argv_;
  std::vector<char*> c_env_;
};

/// Reads `argv` (array) or `command` (shell string), `cwd` (default
/// /workspace), `env` and `secret_env` ({ENV: secret name}) from a request.
/// `shell_default` is the argv used when the request names no command.
result<std::unique_ptr<launch_plan>>
plan_launch(const agent_context& ctx, const nlohmann::json& req,
            std::vector<std::string> shell_default = {});

/// The host path of the agent's runtime directory /run/<sub> (created,
/// mode 0700), which never shows in /workspace, diffs or exports.
result<std::string> runtime_dir(const agent_context& ctx,
                                const std::string& sub);

/// The value of a secret from /run/pyro-secrets.
result<std::string> read_secret(const agent_context& ctx,
                                const std::string& name);

} // namespace pyro::agent
