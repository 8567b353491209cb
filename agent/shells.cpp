#include "agent/shells.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/launch.hpp"
#include "agent/ops.hpp"
#include "agent/process_table.hpp"

namespace pyro::agent {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

// What a shell keeps of its output; older bytes are dropped and a read
// from before them says `truncated`.
constexpr size_t buffer_cap = 2u << 20;
constexpr size_t max_shells = 64;
constexpr int max_wait_ms = 60000;

struct shell_session {
  std::string id;
  pid_t pid = -1;
  int master = -1;
  int wake[2] = {-1, -1};
  std::string cwd;
  int cols = 0;
  int rows = 0;
  /// Everything started in the shell, ended by close.
  cgroup_group group;

  std::mutex mtx;
  std::condition_variable changed;
  std::string buffer;
  uint64_t base = 0; // stream offset of buffer[0]
  clock_type::time_point last_activity = clock_type::now();
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  bool reader_done = false;

  [[nodiscard]] uint64_t end() const {
    return base + buffer.size();
  }

  json describe() const {
    json j{{"shell_id", id},      {"pid", pid},
           {"cwd", cwd},          {"cols", cols},
           {"rows", rows},        {"state", exited ? "exited" : "running"},
           {"exit_code", nullptr}};
    if (exited) {
      j["exit_code"] = exit_code;
      j["signal"] = signal;
    }
    return j;
  }
};

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

void append_output(shell_session& s, const char* data, size_t n) {
  s.buffer.append(data, n);
  if (s.buffer.size() > buffer_cap) {
    auto drop = s.buffer.size() - buffer_cap;
    while (drop < s.buffer.size() && is_continuation(s.buffer[drop]))
      ++drop; // never start the kept part inside a character
    s.buffer.erase(0, drop);
    s.base += drop;
  }
  s.last_activity = clock_type::now();
}

void record_exit(shell_session& s, int wstatus) {
  s.exited = true;
  if (WIFEXITED(wstatus))
    s.exit_code = WEXITSTATUS(wstatus);
  else if (WIFSIGNALED(wstatus))
    s.signal = WTERMSIG(wstatus);
}

// The only thread that reads the terminal and collects the exit status.
void pump(std::shared_ptr<shell_session> s) {
  auto& table = process_table::instance();
  int exit_fd = open_pidfd(s->pid);
  bool leader_gone = exit_fd < 0;
  char buf[16384];
  for (;;) {
    pollfd pfds[3]
      = {{s->master, POLLIN, 0}, {s->wake[0], POLLIN, 0}, {exit_fd, POLLIN, 0}};
    nfds_t n = leader_gone ? 2 : 3;
    if (::poll(pfds, n, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfds[1].revents != 0)
      break; // closed
    if (n == 3 && pfds[2].revents != 0) {
      leader_gone = true;
      if (auto st
          = table.wait(s->pid, clock_type::now() + std::chrono::seconds{5})) {
        std::lock_guard<std::mutex> guard{s->mtx};
        record_exit(*s, *st);
        s->changed.notify_all();
      }
    }
    if (pfds[0].revents != 0) {
      auto got = ::read(s->master, buf, sizeof(buf));
      if (got > 0) {
        std::lock_guard<std::mutex> guard{s->mtx};
        append_output(*s, buf, static_cast<size_t>(got));
        s->changed.notify_all();
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        break; // EIO: every slave side is closed
      }
    }
  }
  // The terminal is done; the status comes when the leader goes (a close
  // kills it).
  while (!leader_gone) {
    if (auto st
        = table.wait(s->pid, clock_type::now() + std::chrono::seconds{1})) {
      std::lock_guard<std::mutex> guard{s->mtx};
      record_exit(*s, *st);
      leader_gone = true;
    }
  }
  if (exit_fd >= 0)
    ::close(exit_fd);
  std::lock_guard<std::mutex> guard{s->mtx};
  ::close(s->master);
  s->master = -1;
  s->reader_done = true;
  s->changed.notify_all();
}

class shell_table {
public:
  static shell_table& instance() {
    static shell_table table;
    return table;
  }

  result<std::shared_ptr<shell_session>> find(const json& req) {
    auto id = string_field(req, "shell_id");
    if (!id)
      return id.err();
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = shells_.find(*id);
    if (i == shells_.end())
      return make_error(error_code::not_found,
                        "no shell '" + *id + "' in this workspace",
                        "list the open shells; a reset or restart closes them");
    return i->second;
  }

  status add(std::shared_ptr<shell_session> s) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (shells_.size() >= max_shells)
      return make_error(error_code::resource_exhausted,
                        "this workspace already has 64 shells open",
                        "close some shells first");
    shells_[s->id] = std::move(s);
    return {};
  }

  void remove(const std::string& id) {
    std::lock_guard<std::mutex> guard{mtx_};
    shells_.erase(id);
  }

  json list() {
    std::lock_guard<std::mutex> guard{mtx_};
    json out = json::array();
    for (const auto& [id, s] : shells_) {
      std::lock_guard<std::mutex> inner{s->mtx};
      out.push_back(s->describe());
    }
    return out;
  }

private:
  std::mutex mtx_;
  std::map<std::string, std::shared_ptr<shell_session>> shells_;
};

std::string new_shell_id() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes))
    std::memset(bytes, 0, sizeof(bytes));
  static constexpr char hex[] = "0123456789abcdef";
  std::string id = "shell-";
  for (auto b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

result<int> dimension(const json& req, const char* key, int fallback) {
  auto v = req.value(key, fallback);
  if (v < 1 || v > 1000)
    return make_error(error_code::invalid_argument,
                      std::string{key} + " must be between 1 and 1000");
  return v;
}

// Commands resolve in the agent's own mount namespace (the host's, in host
// mode), so that is where to look.
std::vector<std::string> default_shell() {
  if (::access("/bin/bash", X_OK) == 0)
    return {"/bin/bash", "-i"};
  return {"/bin/sh", "-i"};
}

// The process group a terminal signal goes to: the foreground job, or the
// shell itself when nothing runs in the foreground.
pid_t foreground_group(const shell_session& s) {
  pid_t fg = s.master >= 0 ? ::tcgetpgrp(s.master) : -1;
  return fg > 0 ? fg : s.pid;
}

} // namespace

int signal_from_name(const std::string& raw) {
  auto name = raw.rfind("SIG", 0) == 0 ? raw.substr(3) : raw;
  if (name == "HUP")
    return SIGHUP;
  if (name == "INT")
    return SIGINT;
  if (name == "TERM")
    return SIGTERM;
  if (name == "KILL")
    return SIGKILL;
  return 0;
}

status op_shell_open(const agent_context& ctx, const json& req,
                     connection& conn) {
  auto cols = dimension(req, "cols", 120);
  if (!cols)
    return cols.err();
  auto rows = dimension(req, "rows", 30);
  if (!rows)
    return rows.err();
  auto plan = plan_launch(ctx, req, default_shell());
  if (!plan)
    return plan.err();
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char slave_name[128];
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0
      || ::ptsname_r(master, slave_name, sizeof(slave_name)) != 0) {
    auto err = errno;
    if (master >= 0)
      ::close(master);
    return make_error(error_code::resource_exhausted,
                      std::string{"cannot allocate a pseudo-terminal: "}
                        + std::strerror(err));
  }
  winsize size{};
  size.ws_col = static_cast<unsigned short>(*cols);
  size.ws_row = static_cast<unsigned short>(*rows);
  ::ioctl(master, TIOCSWINSZ, &size);
  auto s = std::make_shared<shell_session>();
  s->id = new_shell_id();
  s->master = master;
  s->cwd = (*plan)->cwd;
  s->cols = *cols;
  s->rows = *rows;
  if (::pipe2(s->wake, O_CLOEXEC) != 0) {
    ::close(master);
    return make_error(error_code::resource_exhausted, "pipe failed");
  }
  auto group = cgroup_tree::instance().make("shell");
  if (!group) {
    ::close(master);
    ::close(s->wake[0]);
    ::close(s->wake[1]);
    return group.err();
  }
  s->group = std::move(*group);
  (*plan)->cgroup_procs = s->group.procs_fd();
  pid_t pid = process_table::instance().fork_tracked();
  if (pid == 0) {
    ::setsid();
    int slave = ::open(slave_name, O_RDWR);
    if (slave < 0)
      ::_exit(126);
    ::ioctl(slave, TIOCSCTTY, 0);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    if (slave > 2)
      ::close(slave);
    (*plan)->exec_child();
  }
  if (pid < 0) {
    ::close(master);
    ::close(s->wake[0]);
    ::close(s->wake[1]);
    return make_error(error_code::resource_exhausted,
                      std::string{"fork: "} + std::strerror(errno));
  }
  s->pid = pid;
  if (auto added = shell_table::instance().add(s); !added) {
    ::kill(-pid, SIGKILL);
    ::write(s->wake[1], "x", 1);
    std::thread{pump, s}.detach();
    return added;
  }
  std::thread{pump, s}.detach();
  std::lock_guard<std::mutex> guard{s->mtx};
  return conn.reply(s->describe());
}

status op_shell_write(const agent_context&, const json& req, connection& conn) {
  auto s = shell_table::instance().find(req);
  if (!s)
    return s.err();
  auto input = string_field(req, "input");
  if (!input)
    return input.err();
  std::unique_lock<std::mutex> lock{(*s)->mtx};
  if ((*s)->exited || (*s)->master < 0)
    return make_error(error_code::failed_precondition,
                      "shell " + (*s)->id + " has exited; open a new one");
  // A duplicate, so a close racing with this write cannot pull the
  // descriptor away under it.
  int master = ::fcntl((*s)->master, F_DUPFD_CLOEXEC, 0);
  (*s)->last_activity = clock_type::now();
  lock.unlock();
  if (master < 0)
    return make_error(error_code::resource_exhausted, "dup failed");
  struct closer {
    int fd;
    ~closer() {
      ::close(fd);
    }
  } close_dup{master};
  size_t done = 0;
  auto deadline = clock_type::now() + std::chrono::seconds{10};
  while (done < input->size()) {
    auto put = ::write(master, input->data() + done, input->size() - done);
    if (put > 0) {
      done += static_cast<size_t>(put);
      continue;
    }
    if (put < 0 && errno != EINTR && errno != EAGAIN)
      return make_error(error_code::failed_precondition,
                        "writing to shell " + (*s)->id
                          + " failed: " + std::strerror(errno));
    if (clock_type::now() > deadline)
      return make_error(error_code::deadline_exceeded,
                        "shell " + (*s)->id + " stopped reading its input");
    pollfd p{master, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
  return conn.reply(json{{"shell_id", (*s)->id}, {"bytes_written", done}});
}

status op_shell_read(const agent_context&, const json& req, connection& conn) {
  auto found = shell_table::instance().find(req);
  if (!found)
    return found.err();
  auto& s = **found;
  auto cursor = req.value("cursor", uint64_t{0});
  auto max_chars = req.value("max_chars", uint64_t{65536});
  auto idle_ms = req.value("wait_for_idle_ms", 0);
  if (idle_ms < 0 || idle_ms > max_wait_ms)
    return make_error(error_code::invalid_argument,
                      "wait_for_idle_ms must be between 0 and 60000");
  std::unique_lock<std::mutex> lock{s.mtx};
  if (idle_ms > 0) {
    // Quiet means no output and no input for idle_ms; gives up after a
    // minute of chatter.
    auto give_up = clock_type::now() + std::chrono::milliseconds{max_wait_ms};
    auto idle = std::chrono::milliseconds{idle_ms};
    while (!s.reader_done && clock_type::now() < give_up) {
      auto quiet_at = s.last_activity + idle;
      if (clock_type::now() >= quiet_at)
        break;
      s.changed.wait_until(lock, std::min(quiet_at, give_up));
    }
  }
  bool truncated = cursor < s.base;
  uint64_t start = std::max(cursor, s.base);
  start = std::min(start, s.end());
  size_t from = static_cast<size_t>(start - s.base);
  while (from < s.buffer.size() && is_continuation(s.buffer[from]))
    ++from;
  size_t to = from;
  uint64_t chars = 0;
  while (to < s.buffer.size() && chars < max_chars) {
    size_t next = to + 1;
    while (next < s.buffer.size() && is_continuation(s.buffer[next]))
      ++next;
    auto lead = static_cast<unsigned char>(s.buffer[to]);
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (next == s.buffer.size() && next - to < want)
      break; // the rest of this character has not arrived yet
    to = next;
    ++chars;
  }
  auto reply = s.describe();
  reply["cursor"] = s.base + from;
  reply["output"] = s.buffer.substr(from, to - from);
  reply["next_cursor"] = s.base + to;
  reply["truncated"] = truncated;
  reply["more"] = to < s.buffer.size();
  lock.unlock();
  return conn.reply(reply);
}

status op_shell_resize(const agent_context&, const json& req,
                       connection& conn) {
  auto s = shell_table::instance().find(req);
  if (!s)
    return s.err();
  auto cols = dimension(req, "cols", (*s)->cols);
  if (!cols)
    return cols.err();
  auto rows = dimension(req, "rows", (*s)->rows);
  if (!rows)
    return rows.err();
  std::lock_guard<std::mutex> guard{(*s)->mtx};
  if ((*s)->master >= 0) {
    winsize size{};
    size.ws_col = static_cast<unsigned short>(*cols);
    size.ws_row = static_cast<unsigned short>(*rows);
    ::ioctl((*s)->master, TIOCSWINSZ, &size);
  }
  (*s)->cols = *cols;
  (*s)->rows = *rows;
  return conn.reply((*s)->describe());
}

status op_shell_signal(const agent_context&, const json& req,
                       connection& conn) {
  auto s = shell_table::instance().find(req);
  if (!s)
    return s.err();
  auto name = req.value("signal", std::string{"INT"});
  int sig = signal_from_name(name);
  if (sig == 0)
    return make_error(error_code::invalid_argument,
                      "signal '" + name
                        + "' is not one of HUP, INT, TERM, KILL");
  std::lock_guard<std::mutex> guard{(*s)->mtx};
  if ((*s)->exited)
    return make_error(error_code::failed_precondition,
                      "shell " + (*s)->id + " has already exited");
  pid_t group = foreground_group(**s);
  ::kill(-group, sig);
  return conn.reply(
    json{{"shell_id", (*s)->id}, {"signal", name}, {"process_group", group}});
}

status op_shell_close(const agent_context&, const json& req, connection& conn) {
  auto found = shell_table::instance().find(req);
  if (!found)
    return found.err();
  auto s = *found;
  shell_table::instance().remove(s->id);
  {
    std::lock_guard<std::mutex> guard{s->mtx};
    if (!s->exited) {
      ::kill(-foreground_group(*s), SIGHUP);
      ::kill(-s->pid, SIGHUP); // interactive shells ignore TERM
    }
  }
  stop_group(s->pid, std::chrono::milliseconds{500},
             [&](clock_type::time_point deadline) {
               std::unique_lock<std::mutex> lock{s->mtx};
               return s->changed.wait_until(lock, deadline,
                                            [&] { return s->exited; });
             });
  // Background jobs would keep the terminal open and outlive the shell.
  s->group.kill();
  ::write(s->wake[1], "x", 1);
  std::unique_lock<std::mutex> lock{s->mtx};
  bool done = s->changed.wait_for(lock, std::chrono::seconds{5},
                                  [&] { return s->reader_done; });
  auto reply = s->describe();
  reply["closed"] = true;
  lock.unlock();
  if (done) { // else the reader may still poll them: leave them be
    ::close(s->wake[0]);
    ::close(s->wake[1]);
  }
  return conn.reply(reply);
}

status op_shell_list(const agent_context&, const json&, connection& conn) {
  return conn.reply(json{{"shells", shell_table::instance().list()}});
}

} // namespace pyro::agent
