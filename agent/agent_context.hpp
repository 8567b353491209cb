#pragma once

#include <string>

namespace pyro::agent {

/// How the agent was started: the guest "/" it serves and its duties.
struct agent_context {
  /// Host directory that is the guest's "/" ("/" inside a sandbox or VM).
  std::string root = "/";
  /// O_PATH descriptor of `root`, and of root/workspace.
  int root_fd = -1;
  int workspace_fd = -1;
  /// sandbox, vm or host: reported by hello.
  std::string mode = "host";
  /// Set by a VM's PID 1 (`--hostname`, else `pyro.hostname=` on the
  /// kernel command line).
  std::string hostname;
  /// Test switch: resolve paths without openat2, as on old kernels.
  bool no_openat2 = false;
};

} // namespace pyro::agent
