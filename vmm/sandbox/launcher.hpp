#pragma once

#include "vmm/sandbox/launch_spec.hpp"

namespace pyro::vmm {

/// Builds the sandbox described by `spec` and leaves its PID 1 (the agent)
/// running detached: new session, cgroup limits, new mount, pid, uts, ipc,
/// net and cgroup namespaces, an overlay root, a minimal /dev, pivot_root,
/// dropped capabilities, no_new_privs, seccomp. Returns once the agent has
/// been exec'd (exit status 0, pid file written) or set-up failed (non-zero,
/// reason on stderr). The body of the `pyro-sandbox launch` helper.
int launch_sandbox(const launch_spec& spec);

} // namespace pyro::vmm
