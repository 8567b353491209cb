#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/launch.hpp"
#include "agent/ops.hpp"
#include "agent/process_table.hpp"

namespace pyro::agent {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t default_output_cap = 1u << 20;
// After the command exits, output from what it left behind is read this
// much longer before the rest of its process group is killed.
constexpr int drain_grace_ms = 50;

struct captured {
  std::string text;
  bool truncated = false;
};

void append_capped(captured& c, const char* data, size_t n, size_t cap) {
  auto room = cap > c.text.size() ? cap - c.text.size() : 0;
  c.text.append(data, std::min(n, room));
  if (n > room)
    c.truncated = true;
}

// Running execs by the tag their caller gave, for exec_cancel.
class running_execs {
public:
  static running_execs& instance() {
    static running_execs table;
    return table;
  }

  void add(const std::string& tag, pid_t pid) {
    if (tag.empty())
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    by_tag_[tag] = pid;
  }

  void remove(const std::string& tag) {
    std::lock_guard<std::mutex> guard{mtx_};
    by_tag_.erase(tag);
  }

  // Kills the tagged command's whole process group; false if none runs.
  bool cancel(const std::string& tag) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = by_tag_.find(tag);
    if (i == by_tag_.end())
      return false;
    ::kill(-i->second, SIGKILL);
    // A child not yet through setsid() has no group of its own to kill.
    ::kill(i->second, SIGKILL);
    return true;
  }

private:
  std::mutex mtx_;
  std::map<std::string, pid_t> by_tag_;
};

} // namespace

status op_exec_cancel(const agent_context&, const json& req, connection& conn) {
  auto tag = string_field(req, "cancel_tag");
  if (!tag)
    return tag.err();
  return conn.reply(
    json{{"cancel_tag", *tag},
         {"cancelled", running_execs::instance().cancel(*tag)}});
}

status op_exec(const agent_context& ctx, const json& req, connection& conn) {
  auto plan = plan_launch(ctx, req);
  if (!plan)
    return plan.err();
  auto timeout_s = req.value("timeout_seconds", 30.0);
  if (!(timeout_s > 0) || timeout_s > 86400)
    return make_error(error_code::invalid_argument,
                      "timeout_seconds must be in (0, 86400]");
  auto cap = req.value("max_output_bytes", default_output_cap);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"pipe: "} + std::strerror(errno));
  // Everything the command starts stays in its group and ends with it.
  auto group = cgroup_tree::instance().make("exec");
  if (!group) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      ::close(fd);
    return group.err();
  }
  (*plan)->cgroup_procs = group->procs_fd();
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto started = clock_type::now();
  pid_t pid = process_table::instance().fork_tracked();
  if (pid == 0) {
    ::setsid(); // its own process group, killed as one
    ::dup2(null_fd >= 0 ? null_fd : out_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    (*plan)->exec_child();
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (null_fd >= 0)
    ::close(null_fd);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return make_error(error_code::resource_exhausted,
                      std::string{"fork: "} + std::strerror(errno));
  }
  auto tag = req.value("cancel_tag", std::string{});
  running_execs::instance().add(tag, pid);
  int exit_fd = open_pidfd(pid);
  auto deadline
    = started
      + std::chrono::milliseconds{static_cast<int64_t>(timeout_s * 1000)};
  captured out;
  captured err;
  bool timed_out = false;
  bool exited = exit_fd < 0; // already reaped: just drain
  std::optional<clock_type::time_point> drain_until;
  if (exited)
    drain_until = clock_type::now() + std::chrono::milliseconds{drain_grace_ms};
  int fds[2] = {out_pipe[0], err_pipe[0]};
  captured* sinks[2] = {&out, &err};
  char buf[65536];
  while (fds[0] >= 0 || fds[1] >= 0) {
    auto now = clock_type::now();
    auto until = drain_until ? std::min(*drain_until, deadline) : deadline;
    if (now >= until) {
      timed_out = !drain_until || now >= deadline;
      break;
    }
    pollfd pfds[3];
    int n = 0;
    for (int fd : fds)
      if (fd >= 0)
        pfds[n++] = {fd, POLLIN, 0};
    if (!exited)
      pfds[n++] = {exit_fd, POLLIN, 0};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
                .count();
    int ready = ::poll(pfds, static_cast<nfds_t>(n), static_cast<int>(ms) + 1);
    if (ready < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n; ++i) {
      if (pfds[i].revents == 0)
        continue;
      if (pfds[i].fd == exit_fd) {
        exited = true;
        drain_until
          = clock_type::now() + std::chrono::milliseconds{drain_grace_ms};
        continue;
      }
      int slot = pfds[i].fd == fds[0] ? 0 : 1;
      auto got = ::read(pfds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        append_capped(*sinks[slot], buf, static_cast<size_t>(got), cap);
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[slot]);
        fds[slot] = -1;
      }
    }
  }
  // Whatever is left, timed out or left in the background (even in a
  // session or process group of its own), goes now: an exec never leaves a
  // process behind.
  ::kill(-pid, SIGKILL);
  group->kill();
  running_execs::instance().remove(tag);
  for (int fd : fds)
    if (fd >= 0)
      ::close(fd);
  if (exit_fd >= 0)
    ::close(exit_fd);
  auto wstatus = process_table::instance().wait(
    pid, clock_type::now() + std::chrono::seconds{10});
  auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(
                    clock_type::now() - started)
                    .count();
  int exit_code = -1;
  int signal = 0;
  if (wstatus) {
    if (WIFEXITED(*wstatus))
      exit_code = WEXITSTATUS(*wstatus);
    else if (WIFSIGNALED(*wstatus))
      signal = WTERMSIG(*wstatus);
  } else {
    process_table::instance().forget(pid);
  }
  if (timed_out) {
    exit_code = -1;
    signal = SIGKILL;
  }
  return conn.reply(json{{"exit_code", exit_code},
                         {"signal", signal},
                         {"timed_out", timed_out},
                         {"stdout", out.text},
                         {"stderr", err.text},
                         {"truncated", out.truncated || err.truncated},
                         {"duration_ms", duration}});
}

} // namespace pyro::agent
