#include "agent/process_table.hpp"

#include <atomic>
#include <cerrno>
#include <thread>

#include <csignal>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::agent {

namespace {

// Every child leads its own process group; these slots name the running
// ones for kill_all_groups, which may run in a signal handler.
constexpr size_t group_slots = 4096;
std::atomic<pid_t> live_groups[group_slots];

void remember_group(pid_t pid) {
  for (auto& slot : live_groups) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid))
      return;
  }
}

void forget_group(pid_t pid) {
  for (auto& slot : live_groups) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

} // namespace

void process_table::kill_all_groups() noexcept {
  for (auto& slot : live_groups)
    if (pid_t pid = slot.load(); pid > 0)
      ::kill(-pid, SIGKILL);
}

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
  // Until the child has dropped the agent's handlers, a signal must not
  // run them in it (SIGTERM's would end every group the agent runs).
  sigset_t all;
  sigset_t old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP})
      ::signal(sig, SIG_DFL);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid > 0) {
    tracked_.insert(pid);
    remember_group(pid);
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
    forget_group(pid);
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

int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void stop_group(
  pid_t pid, std::chrono::milliseconds grace,
  const std::function<bool(std::chrono::steady_clock::time_point)>& exited_by) {
  ::kill(-pid, SIGTERM);
  ::kill(pid, SIGTERM);
  bool gone = exited_by(std::chrono::steady_clock::now() + grace);
  ::kill(-pid, SIGKILL); // the leader may be gone and its group not
  if (!gone) {
    ::kill(pid, SIGKILL);
    exited_by(std::chrono::steady_clock::now() + std::chrono::seconds{5});
  }
}

} // namespace pyro::agent
