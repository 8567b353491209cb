#pragma once

// A command may leave processes behind that no process group or session
// catches: `setsid`, `timeout`, a double fork, a fork bomb. So every exec,
// shell, service and command probe runs in a cgroup of its own below the one
// the agent was given, and ending it kills the whole cgroup. Where the agent
// was given none (an unprivileged sandbox, host-compat without root), groups
// are unavailable and callers fall back to process groups.

#include <string>
#include <string_view>

#include "messages/error.hpp"

namespace pyro::agent {

/// One child cgroup: created empty, joined by a child before exec through
/// `procs_fd`, killed and removed when it is destroyed.
class cgroup_group {
public:
  cgroup_group() = default;
  cgroup_group(int dir_fd, std::string name, int procs_fd);
  cgroup_group(cgroup_group&& other) noexcept;
  cgroup_group& operator=(cgroup_group&& other) noexcept;
  cgroup_group(const cgroup_group&) = delete;
  cgroup_group& operator=(const cgroup_group&) = delete;
  ~cgroup_group();

  /// False when there is no cgroup (the caller relies on its process group).
  [[nodiscard]] bool valid() const {
    return procs_fd_ >= 0;
  }

  /// Descriptor of the group's cgroup.procs; a child writes "0" to it to
  /// join (async-signal-safe). -1 when there is no group.
  [[nodiscard]] int procs_fd() const {
    return procs_fd_;
  }

  /// SIGKILLs every process in the group and waits (boundedly) until it is
  /// empty. Safe to call more than once.
  void kill();

  /// Whether any process is still in the group.
  [[nodiscard]] bool populated() const;

private:
  void release();

  int dir_fd_ = -1; ///< the tree's directory (not owned)
  std::string name_;
  int procs_fd_ = -1;
};

/// The cgroup the agent was given, in which it makes one group per command.
class cgroup_tree {
public:
  static cgroup_tree& instance();

  /// Adopts an inherited descriptor of a cgroup directory (a sandbox's
  /// launcher opens it on the host, where the sandbox cannot).
  status adopt_fd(int dir_fd);

  /// Adopts a cgroup directory by path, moving the agent into it first when
  /// `join` (host-compat: the agent and everything it starts stay in it).
  status adopt_path(const std::string& dir, bool join);

  [[nodiscard]] bool available() const {
    return dir_fd_ >= 0;
  }

  /// A new, empty group named `<prefix>-<n>`; an invalid group (and no
  /// error) when the tree is unavailable.
  result<cgroup_group> make(std::string_view prefix);

  /// Joins the group from a forked child; async-signal-safe. A child that
  /// cannot join exits, so that nothing runs outside its group.
  static void join_in_child(int procs_fd) noexcept;

private:
  int dir_fd_ = -1;
};

} // namespace pyro::agent
