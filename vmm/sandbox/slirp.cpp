#include "vmm/sandbox/slirp.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "vmm/sandbox/egress_guard.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int ready_timeout_ms = 10000;

error os_error(const std::string& what) {
  return make_error(error_code::unavailable,
                    what + ": " + std::strerror(errno));
}

// One request on slirp4netns' API socket.
result<json> api_call(const fs::path& socket_path, const json& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return os_error("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto err = os_error("cannot reach the sandbox's network helper at "
                        + socket_path.string());
    ::close(fd);
    return err;
  }
  auto text = request.dump();
  bool sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL)
              == static_cast<ssize_t>(text.size());
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[4096];
  for (ssize_t n; sent && (n = ::read(fd, buf, sizeof(buf))) > 0;)
    reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto parsed = json::parse(reply, nullptr, false);
  if (!sent || parsed.is_discarded() || !parsed.is_object())
    return make_error(error_code::unavailable,
                      "the sandbox's network helper gave no answer");
  if (parsed.contains("error"))
    return make_error(error_code::failed_precondition,
                      "the sandbox's network helper refused: "
                        + parsed["error"].dump());
  return parsed.value("return", json::object());
}

} // namespace

result<fs::path> find_slirp4netns() {
  if (::geteuid() != 0 && ::access("/dev/net/tun", R_OK | W_OK) != 0)
    return make_error(error_code::unavailable,
                      "unprivileged network egress needs read-write access "
                      "to /dev/net/tun, which this user lacks",
                      "make /dev/net/tun mode 0666 (the usual default), run "
                      "pyro as root, or use --network-policy off");
  if (const char* v = std::getenv("PYRO_SLIRP4NETNS"); v && *v)
    return fs::path{v};
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    auto dir = dirs.substr(start, end == std::string::npos ? end : end - start);
    auto candidate = fs::path{dir.empty() ? "." : dir} / "slirp4netns";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return make_error(error_code::unavailable,
                    "network policies other than 'off' need slirp4netns, "
                    "which is not installed",
                    "install the slirp4netns package (scripts/setup does), "
                    "or create the workspace with --network-policy off");
}

result<slirp_link> fork_slirp(const fs::path& binary,
                              const fs::path& api_socket,
                              const fs::path& log_file) {
  int pid_pipe[2];
  int exit_pipe[2];
  int ready_pipe[2];
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0 || ::pipe2(exit_pipe, O_CLOEXEC) != 0
      || ::pipe2(ready_pipe, O_CLOEXEC) != 0)
    return os_error("pipe2");
  // Everything the child needs, built before fork.
  std::string exit_arg = "--exit-fd=" + std::to_string(exit_pipe[0]);
  std::string ready_arg = "--ready-fd=" + std::to_string(ready_pipe[1]);
  std::string api_arg = "--api-socket=" + api_socket.string();
  // Read here, from the environment of the pyro process that starts the
  // sandbox: the operator's, never anything a client of pyro can set.
  auto policy = egress_policy::from_environment();
  ::unlink(api_socket.c_str());
  pid_t pid = ::fork();
  if (pid < 0)
    return os_error("fork");
  if (pid == 0) {
    ::setsid();
    ::close(pid_pipe[1]);
    ::close(exit_pipe[1]);
    ::close(ready_pipe[0]);
    char text[32] = {};
    size_t got = 0;
    for (ssize_t n;
         got < sizeof(text) - 1
         && (n = ::read(pid_pipe[0], text + got, sizeof(text) - 1 - got)) > 0;)
      got += static_cast<size_t>(n);
    if (got == 0)
      ::_exit(0); // the sandbox never came up
    // The two descriptors slirp4netns is told about must survive exec.
    ::fcntl(exit_pipe[0], F_SETFD, 0);
    ::fcntl(ready_pipe[1], F_SETFD, 0);
    // Never the launcher's stdout and stderr: pyro reads those to their
    // end, and slirp4netns and its guard outlive the launcher.
    int log = ::open(log_file.c_str(),
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(null, 0);
    ::dup2(log >= 0 ? log : null, 1);
    ::dup2(log >= 0 ? log : null, 2);
    // The sandbox's network namespace belongs to its user namespace,
    // which slirp4netns must join first. When that is the host's own (a
    // sandbox of root without a user namespace), joining it fails and
    // slirp4netns carries on, so the flag is passed either way.
    std::vector<std::string> argv{binary.string(),
                                  "--configure",
                                  "--mtu=65520",
                                  "--disable-host-loopback",
                                  "--enable-sandbox",
                                  "--enable-seccomp",
                                  api_arg,
                                  exit_arg,
                                  ready_arg,
                                  "--userns-path=/proc/" + std::string{text}
                                    + "/ns/user",
                                  text,
                                  "eth0"};
    if (!policy.unrestricted())
      exec_guarded(argv, policy);
    std::vector<const char*> args;
    for (const auto& a : argv)
      args.push_back(a.c_str());
    args.push_back(nullptr);
    ::execv(args[0], const_cast<char* const*>(args.data()));
    ::_exit(127);
  }
  ::close(pid_pipe[0]);
  ::close(exit_pipe[0]);
  ::close(ready_pipe[1]);
  return slirp_link{pid, pid_pipe[1], exit_pipe[1], ready_pipe[0]};
}

status start_slirp(slirp_link& link, pid_t sandbox_pid) {
  auto text = std::to_string(sandbox_pid);
  bool sent = ::write(link.pid_write, text.data(), text.size())
              == static_cast<ssize_t>(text.size());
  ::close(link.pid_write);
  link.pid_write = -1;
  if (!sent)
    return os_error("cannot start slirp4netns");
  pollfd p{link.ready_read, POLLIN, 0};
  char c = 0;
  bool ready = ::poll(&p, 1, ready_timeout_ms) == 1
               && ::read(link.ready_read, &c, 1) == 1;
  ::close(link.ready_read);
  link.ready_read = -1;
  if (!ready)
    return make_error(error_code::unavailable,
                      "slirp4netns did not bring the sandbox's network up",
                      "see the sandbox log in the workspace's runtime "
                      "directory");
  return {};
}

result<int> slirp_add_forward(const fs::path& api_socket, int host_port,
                              int guest_port) {
  auto reply = api_call(api_socket, json{{"execute", "add_hostfwd"},
                                         {"arguments",
                                          {{"proto", "tcp"},
                                           {"host_addr", "127.0.0.1"},
                                           {"host_port", host_port},
                                           {"guest_port", guest_port}}}});
  if (!reply)
    return reply.err();
  if (!reply->contains("id") || !(*reply)["id"].is_number_integer())
    return make_error(error_code::unavailable,
                      "the sandbox's network helper returned no forward id");
  return (*reply)["id"].get<int>();
}

status slirp_remove_forward(const fs::path& api_socket, int id) {
  auto reply = api_call(api_socket, json{{"execute", "remove_hostfwd"},
                                         {"arguments", {{"id", id}}}});
  if (!reply)
    return reply.err();
  return {};
}

} // namespace pyro::vmm
