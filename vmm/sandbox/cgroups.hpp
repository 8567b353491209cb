#pragma once

#include <string>
#include <vector>

#include <sys/types.h>

namespace pyro::vmm {

/// What a sandbox's cgroup enforces, as recorded in its runtime dir.
struct cgroup_limits {
  bool cpu = false;
  bool memory = false;
  bool pids = false;
  /// Directories created, to remove on destroy.
  std::vector<std::string> paths;
  std::string note;
};

/// Creates pyro/<id> cgroups (v2 if a writable unified hierarchy has cpu
/// and memory, else v1 cpu/memory/pids), sets vCPU quota, memory and pid
/// limits, and moves `pid` in. Best effort: what could not be enforced is
/// reported, not fatal.
cgroup_limits apply_cgroup_limits(const std::string& id, pid_t pid,
                                  int vcpu_count, int mem_mib);

/// The cgroup in which the sandbox's agent makes a group per command, so
/// that ending a command ends everything it started: pyro/<id> in the
/// cgroup v2 hierarchy (the unified one beside v1 controllers), else in v1
/// `pids`, with `pid` moved in and the directory handed to the sandbox's
/// root (host ids `uid`/`gid`), which cannot reach it otherwise: no cgroup
/// file system is mounted inside. Empty when the host offers none (pyro not
/// root).
std::string delegate_cgroup(const std::string& id, pid_t pid, uid_t uid,
                            gid_t gid);

/// pyro/<id> made in the hierarchy delegate_cgroup uses, for an agent that
/// joins it itself (host-compat); empty when there is none.
std::string command_cgroup(const std::string& id);

/// Kills every process left in the sandbox's cgroups (cgroup.kill where the
/// kernel has it), so that nothing of a sandbox outlives its stop.
void kill_cgroups(const std::string& id);

/// Removes the cgroup directories a sandbox used (its agent's per-command
/// groups first), once they have no processes.
void remove_cgroups(const std::string& id);

} // namespace pyro::vmm
