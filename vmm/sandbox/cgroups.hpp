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

/// Removes the cgroup directories a sandbox used, once it has no processes.
void remove_cgroups(const std::string& id);

} // namespace pyro::vmm
