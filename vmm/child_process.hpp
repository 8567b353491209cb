#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "messages/error.hpp"
#include "messages/sys/unique_fd.hpp"

namespace pyro::vmm {

struct child_result {
  int exit_code = -1;
  std::string err;
};

/// Runs a helper program to completion (fork, then only exec in the child,
/// which is safe in a multithreaded process), capturing its stdout and
/// stderr together in `err`; the helper is killed after `timeout`.
result<child_result> run_helper(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout);

/// Starts a program that outlives this process: double fork, new session,
/// stdin from /dev/null, stdout and stderr appended to `log`. Returns its
/// pid, already reparented away from us so it never lingers as our zombie.
result<pid_t> spawn_detached(const std::vector<std::string>& argv,
                             const std::string& log);

/// Connects to a Unix socket and writes `text`; the connection stays open
/// for the answer (read_to_eof).
result<sys::unique_fd> send_line(const std::string& path,
                                 const std::string& text);

/// Everything the peer writes on `fd` until it closes; `deadline_exceeded`
/// after `timeout`. `what` names the peer in errors.
result<std::string> read_to_eof(int fd, const std::string& what,
                                std::chrono::milliseconds timeout);

/// Waits until a Unix socket accepts a connection, or `timeout` passes.
status wait_for_socket(const std::string& path,
                       std::chrono::milliseconds timeout);

} // namespace pyro::vmm
