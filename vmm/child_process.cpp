#include "vmm/child_process.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "messages/sys/unix_socket.hpp"

namespace pyro::vmm {

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv)
    out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

} // namespace

result<child_result> run_helper(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) {
  auto args = c_argv(argv);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return make_error(error_code::internal,
                      std::string{"pipe: "} + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"fork: "} + std::strerror(errno));
  if (pid == 0) {
    // Never onto our stdout: it may be carrying --json output.
    ::dup2(err_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  child_result out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  char buf[1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{err_pipe[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      continue;
    auto n = ::read(err_pipe[0], buf, sizeof(buf));
    if (n <= 0)
      break;
    out.err.append(buf, static_cast<size_t>(n));
  }
  ::close(err_pipe[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    // retry
  }
  if (timed_out)
    return make_error(error_code::deadline_exceeded,
                      argv.front() + " did not finish in "
                        + std::to_string(timeout.count()) + " ms");
  out.exit_code
    = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return out;
}

result<pid_t> spawn_detached(const std::vector<std::string>& argv,
                             const std::string& log) {
  auto args = c_argv(argv);
  int pid_pipe[2];
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0)
    return make_error(error_code::internal,
                      std::string{"pipe: "} + std::strerror(errno));
  // Opened before fork: the children then only call async-signal-safe
  // functions.
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out
    = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_t middle = ::fork();
  if (middle < 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"fork: "} + std::strerror(errno));
  if (middle == 0) {
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) {
      [[maybe_unused]] auto n
        = ::write(pid_pipe[1], &grandchild, sizeof(grandchild));
      ::_exit(grandchild > 0 ? 0 : 1);
    }
    ::dup2(null, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pid_pipe[1]);
  ::close(null);
  if (out >= 0)
    ::close(out);
  pid_t pid = -1;
  auto n = ::read(pid_pipe[0], &pid, sizeof(pid));
  ::close(pid_pipe[0]);
  ::waitpid(middle, nullptr, 0);
  if (n != sizeof(pid) || pid <= 0)
    return make_error(error_code::internal, "could not start " + argv.front());
  return pid;
}

result<sys::unique_fd> send_line(const std::string& path,
                                 const std::string& text) {
  auto addr = sys::unix_address(path);
  if (!addr)
    return addr.err();
  sys::unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  auto failed = [&](const std::string& what) {
    return make_error(error_code::unavailable,
                      what + " " + path + ": " + std::strerror(errno));
  };
  if (fd.get() < 0
      || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr))
           != 0)
    return failed("cannot connect to");
  if (::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(text.size()))
    return failed("cannot write to");
  return fd;
}

result<std::string> read_to_eof(int fd, const std::string& what,
                                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string answer;
  char buf[512];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    int ready
      = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      return make_error(error_code::deadline_exceeded,
                        "no answer from " + what + " within "
                          + std::to_string(timeout.count()) + " ms");
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error(error_code::unavailable, "cannot read from " + what
                                                   + ": "
                                                   + std::strerror(errno));
    if (n == 0)
      return answer;
    answer.append(buf, static_cast<size_t>(n));
  }
}

status wait_for_socket(const std::string& path,
                       std::chrono::milliseconds timeout) {
  auto addr = sys::unix_address(path);
  if (!addr)
    return addr.err();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds{200};
  for (;;) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      int rc
        = ::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
      ::close(fd);
      if (rc == 0)
        return {};
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(error_code::deadline_exceeded,
                        "the agent did not start listening on " + path
                          + " within " + std::to_string(timeout.count())
                          + " ms");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds{1000});
  }
}

} // namespace pyro::vmm
