#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <sys/types.h>

namespace pyro::agent {

/// The agent is PID 1 (in a sandbox or VM) or a child subreaper (on the
/// host), so orphans land on it and must be reaped. One thread reaps every
/// child and hands the exit status of the ones a request started to that
/// request; everything else is simply reaped.
class process_table {
public:
  static process_table& instance();

  /// Starts the reaper thread; call once at start-up.
  void start_reaper();

  /// Forks with the table locked so the child is known before it can be
  /// reaped; returns fork()'s result. The child must only exec or _exit.
  pid_t fork_tracked();

  /// Waits for a tracked child's wait status until `deadline`.
  std::optional<int> wait(pid_t pid,
                          std::chrono::steady_clock::time_point deadline);

  /// Forgets a tracked child whose status nobody will collect.
  void forget(pid_t pid);

private:
  void reap_loop();

  std::mutex mtx_;
  std::condition_variable changed_;
  std::set<pid_t> tracked_;
  std::map<pid_t, int> exited_;
};

} // namespace pyro::agent
