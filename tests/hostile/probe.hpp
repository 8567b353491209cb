#pragma once

// pyro-hostile-probe: run inside a sandbox as its root, it tries what a
// hostile workload would try against the host and prints one JSON line per
// case. A case is "reachable" (refused: false) only when the operation
// really succeeded, or when the kernel rejected deliberately invalid
// arguments with an error it can only return after its permission check.
// Everything it does is harmless even where nothing is refused: values are
// written back unchanged, dangerous files are only opened, mounts and keys
// it makes are removed, namespace changes happen in throwaway children.

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace pyro::hostile {

/// What one attempted call returned; `signal` is set when the attempt ran
/// in a child that a signal killed (seccomp's SIGSYS, say).
struct call_result {
  long rc = -1;
  int err = 0;
  int signal = 0;
};

/// The result of a call that just returned `rc`, with errno captured.
[[nodiscard]] call_result returned(long rc);

/// Runs `attempt` in a forked child, so that what it changes (a
/// namespace, a tracee, a session keyring) ends with that child.
[[nodiscard]] call_result in_child(const std::function<call_result()>& attempt);

/// "EPERM" for EPERM; the number for an errno without a name.
[[nodiscard]] std::string errno_name(int err);

/// Prints one case as a JSON line on stdout.
void report(const std::string& category, const std::string& name, bool refused,
            const std::string& detail);

/// Reports a call that is reachable exactly when it succeeded.
void report_call(const std::string& category, const std::string& name,
                 const call_result& r,
                 const std::string& success = "succeeded");

/// Reports a call made with arguments the kernel rejects only after its
/// permission check: the errors in `past_gate` show that the caller got
/// through, any other error is a refusal.
void report_gate(const std::string& category, const std::string& name,
                 const call_result& r, std::initializer_list<int> past_gate);

/// Reads a whole file; returns 0 or the errno of the failing call.
[[nodiscard]] int read_file(const std::string& path, std::string& out);

/// Opens `path` for writing and closes it again without writing: used
/// where any write would act, as opening passes the same permission check.
void report_open_for_write(const std::string& category, const std::string& name,
                           const std::string& path);

/// Reads the value of `path` and writes the same bytes back.
void report_write_back(const std::string& category, const std::string& name,
                       const std::string& path);

void probe_sysctl();
void probe_proc();
void probe_host_paths(const std::vector<std::string>& host_paths);
void probe_agent_socket();
void probe_ptrace();
void probe_mount();
void probe_namespaces();
void probe_kernel();
void probe_keyctl();
void probe_bpf();
void probe_perf();
void probe_io_uring();
void probe_raw_sockets();
void probe_devices();

} // namespace pyro::hostile
