#include "probe.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::hostile {

namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string signal_detail(int sig) {
  const char* name = ::sigabbrev_np(sig);
  return std::string{"killed by SIG"} + (name ? name : std::to_string(sig));
}

} // namespace

call_result returned(long rc) {
  return {rc, rc < 0 ? errno : 0, 0};
}

call_result in_child(const std::function<call_result()>& attempt) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return returned(-1);
  pid_t pid = ::fork();
  if (pid < 0) {
    auto r = returned(-1);
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
  }
  if (pid == 0) {
    ::close(fds[0]);
    auto r = attempt();
    ssize_t n = ::write(fds[1], &r, sizeof r);
    ::_exit(n == sizeof r ? 0 : 1);
  }
  ::close(fds[1]);
  call_result r;
  ssize_t n = ::read(fds[0], &r, sizeof r);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (n != sizeof r)
    r = {-1, 0, WIFSIGNALED(status) ? WTERMSIG(status) : SIGCHLD};
  return r;
}

std::string errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

void report(const std::string& category, const std::string& name, bool refused,
            const std::string& detail) {
  auto line = "{\"category\":" + json_string(category)
              + ",\"case\":" + json_string(name)
              + ",\"refused\":" + (refused ? "true" : "false")
              + ",\"detail\":" + json_string(detail) + "}\n";
  // One write per line, unbuffered: forked children inherit no pending
  // output, and a probe killed midway still leaves whole lines.
  ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
  (void)n;
}

void report_call(const std::string& category, const std::string& name,
                 const call_result& r, const std::string& success) {
  if (r.signal != 0)
    report(category, name, true, signal_detail(r.signal));
  else if (r.rc >= 0)
    report(category, name, false, success);
  else
    report(category, name, true, errno_name(r.err));
}

void report_gate(const std::string& category, const std::string& name,
                 const call_result& r, std::initializer_list<int> past_gate) {
  if (r.signal == 0 && r.rc < 0
      && std::find(past_gate.begin(), past_gate.end(), r.err)
           != past_gate.end())
    report(category, name, false,
           errno_name(r.err) + " after the permission check");
  else
    report_call(category, name, r);
}

int read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return errno;
  out.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20))
      break;
  }
  ::close(fd);
  return 0;
}

void report_open_for_write(const std::string& category, const std::string& name,
                           const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return report(category, name, true, errno_name(errno));
  ::close(fd);
  report(category, name, false, "opened for write (nothing written)");
}

void report_write_back(const std::string& category, const std::string& name,
                       const std::string& path) {
  std::string value;
  if (int err = read_file(path, value))
    return report(category, name, true,
                  "value unreadable (" + errno_name(err) + "), not written");
  // An empty read means there is no value to restore (vm/stat_refresh).
  if (value.empty())
    return report_open_for_write(category, name, path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return report(category, name, true, errno_name(errno));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  // Refused here may still be writable: the kernel took the open and only
  // rejected the value (a 0 below a minimum reads back but cannot be set).
  if (n < 0)
    return report(category, name, true, "write: " + errno_name(err));
  report(category, name, false,
         n == static_cast<ssize_t>(value.size())
           ? "wrote back the same value"
           : "wrote back " + std::to_string(n) + " of "
               + std::to_string(value.size()) + " bytes");
}

} // namespace pyro::hostile
