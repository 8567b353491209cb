#pragma once

#include <nlohmann/json.hpp>
#include <sys/types.h>

namespace pyro::vmm {

/// A pid plus its start time (field 22 of /proc/PID/stat), so that a pid
/// recycled by the kernel is never mistaken for our sandbox.
struct process_identity {
  pid_t pid = 0;
  unsigned long long start_time = 0;
};

/// Reads the identity of a live process; start_time 0 if it is gone.
process_identity identity_of(pid_t pid);

/// `{"pid": ..., "start_time": ...}` for the runtime dir's pid file.
nlohmann::json process_identity_of(pid_t pid);

/// Whether the process still runs (a zombie counts as gone).
[[nodiscard]] bool alive(const process_identity& id);

/// Whether the process is stopped, by a signal (SIGSTOP, a job-control
/// stop) or by a tracer (state T or t): it then acts on no signal it
/// handles, so asking it to end gracefully waits in vain.
[[nodiscard]] bool stopped(const process_identity& id);

process_identity process_identity_from_json(const nlohmann::json& j);

} // namespace pyro::vmm
