#include "agent/process_table.hpp"

#include <cerrno>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace pyro::agent {

process_table& process_table::instance() {
  static process_table table;
  return table;
}

void process_table::start_reaper() {
  std::thread{[this] {
    reap_loop();
  }}.detach();
}

pid_t process_table::fork_tracked() {
  std::lock_guard<std::mutex> guard{mtx_};
  pid_t pid = ::fork();
  if (pid > 0) {
    tracked_.insert(pid);
    changed_.notify_all(); // wakes the reaper if it had nothing to wait for
  }
  return pid;
}

void process_table::reap_loop() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      // No children at all: sleep until a request starts one.
      std::unique_lock<std::mutex> lock{mtx_};
      changed_.wait_for(lock, std::chrono::milliseconds{200},
                        [&] { return !tracked_.empty(); });
      continue;
    }
    std::lock_guard<std::mutex> guard{mtx_};
    if (tracked_.erase(pid) > 0) {
      exited_[pid] = status;
      changed_.notify_all();
    }
  }
}

std::optional<int>
process_table::wait(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock{mtx_};
  if (!changed_.wait_until(lock, deadline,
                           [&] { return exited_.count(pid) != 0; }))
    return std::nullopt;
  auto status = exited_[pid];
  exited_.erase(pid);
  return status;
}

void process_table::forget(pid_t pid) {
  std::lock_guard<std::mutex> guard{mtx_};
  tracked_.erase(pid);
  exited_.erase(pid);
}

} // namespace pyro::agent
