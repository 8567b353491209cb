#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
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

  /// SIGKILLs the process group of every child still running. Async-signal
  /// safe: on the host nothing else would end them when the agent goes.
  static void kill_all_groups() noexcept;

private:
  void reap_loop();

  std::mutex mtx_;
  std::condition_variable changed_;
  std::set<pid_t> tracked_;
  std::map<pid_t, int> exited_;
};

/// A pidfd for `pid` (readable once it exits), or -1.
int open_pidfd(pid_t pid);

/// Ends a process group, politely first: TERM, then KILL unless
/// `exited_by(deadline)` reports the leader gone within `grace`. Whoever
/// owns the leader's exit status (a monitor thread) answers `exited_by`.
void stop_group(
  pid_t pid, std::chrono::milliseconds grace,
  const std::function<bool(std::chrono::steady_clock::time_point)>& exited_by);

} // namespace pyro::agent
