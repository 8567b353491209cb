#include "vmm/sandbox/launcher.hpp"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/process_identity.hpp"
#include "vmm/sandbox/cgroups.hpp"
#include "vmm/sandbox/confinement.hpp"
#include "vmm/sandbox/id_map.hpp"
#include "vmm/sandbox/layers.hpp"
#include "vmm/sandbox/root_setup.hpp"
#include "vmm/sandbox/slirp.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string errno_message(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

[[noreturn]] void fail_setup(int report, const std::string& message) {
  auto line = message + "\n";
  [[maybe_unused]] auto n = ::write(report, line.data(), line.size());
  ::_exit(1);
}

// Descriptors the launcher prepares on the host and PID 1 inherits: the
// sandbox reaches nothing of the host by path.
struct inherited {
  int agent_socket = -1; ///< bound in the host's socket dir, not listening
  int park_socket = -1;  ///< ditto, for a parked sandbox's claim
  int agent_binary = -1; ///< executed by descriptor
  int cgroup = -1;       ///< the delegated cgroup, or -1
  int owner = -1;        ///< pidfd of the pool's keeper, or -1
  int layers_channel = -1; ///< where the taken layers arrive (root only)
};

// One step of the launcher/PID 1 handshake: a byte on a pipe.
void signal_step(int fd) {
  [[maybe_unused]] auto n = ::write(fd, "x", 1);
}

bool await_step(int fd) {
  char c;
  for (;;) {
    auto n = ::read(fd, &c, 1);
    if (n == 1)
      return true;
    if (n < 0 && errno == EINTR)
      continue;
    return false;
  }
}

// A Unix socket bound at `path` but not listening: PID 1 listens on it
// from inside, so that the peer credentials a host process reads on each
// connection name the sandbox's PID 1.
int bind_socket(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto text = path.string();
  if (text.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(text.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
      || ::chmod(text.c_str(), 0600) != 0) {
    if (fd >= 0)
      ::close(fd);
    return -1;
  }
  return fd;
}

// SCM_RIGHTS: the taken layers go from the root-run helper to PID 1.
bool send_layers(int channel, const taken_layers& taken) {
  int fds[2] = {taken.lower, taken.layers};
  char byte = 'l';
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))]{};
  msghdr msg{};
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  auto* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(cm), fds, sizeof(fds));
  return ::sendmsg(channel, &msg, 0) == 1;
}

bool receive_layers(int channel, taken_layers& taken) {
  char byte = 0;
  iovec io{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))]{};
  msghdr msg{};
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(channel, &msg, MSG_CMSG_CLOEXEC) != 1)
    return false;
  auto* cm = CMSG_FIRSTHDR(&msg);
  if (cm == nullptr || cm->cmsg_type != SCM_RIGHTS
      || cm->cmsg_len != CMSG_LEN(2 * sizeof(int)))
    return false;
  int fds[2];
  std::memcpy(fds, CMSG_DATA(cm), sizeof(fds));
  taken.lower = fds[0];
  taken.layers = fds[1];
  return true;
}

// Hostnames pyro gives are workspace ids; anything else is refused.
bool valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 63)
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return false;
  return true;
}

// Execs the agent on the listening socket `fd`; returns only if it cannot.
void exec_agent(const inherited& from, int fd, bool once) {
  ::fcntl(fd, F_SETFD, 0);
  auto listen = "fd:" + std::to_string(fd);
  std::vector<const char*> argv
    = {"/run/pyro-agent", "--listen", listen.c_str(), "--sandbox"};
  std::string cgroup;
  if (from.cgroup >= 0) {
    ::fcntl(from.cgroup, F_SETFD, 0);
    cgroup = "fd:" + std::to_string(from.cgroup);
    argv.push_back("--cgroup");
    argv.push_back(cgroup.c_str());
  }
  if (once)
    argv.push_back("--once");
  argv.push_back(nullptr);
  const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                        "/usr/bin:/sbin:/bin",
                        "HOME=/root", "TERM=xterm-256color", nullptr};
  ::syscall(SYS_execveat, from.agent_binary, "",
            const_cast<char* const*>(argv.data()),
            const_cast<char* const*>(envp), AT_EMPTY_PATH);
}

// The parked state of a pooled sandbox's PID 1: everything is built and
// the agent's socket already listens (so a claimer can connect at once),
// but no hostname is set and nothing is confined yet, because the agent
// cannot do either later. Meanwhile an agent serves the socket's first
// connection, which is the pool's taking the baseline of the still
// untouched /workspace before it offers the sandbox. Tells the launcher it
// is ready by closing `report`, then waits for one claim naming the
// workspace and returns that connection, which carries any later set-up
// error back to the claimer.
int park(int report, const inherited& from, std::string& hostname) {
  if (::listen(from.park_socket, 16) != 0)
    fail_setup(report, errno_message("listen on the park socket"));
  pid_t first = ::fork();
  if (first < 0)
    fail_setup(report, errno_message("fork the baseline agent"));
  if (first == 0) {
    exec_agent(from, from.agent_socket, true);
    ::_exit(127);
  }
  // PID 1 ignores signals it has no handler for; draining the pool sends
  // SIGTERM.
  struct sigaction quit {};
  quit.sa_handler = [](int) {
    ::_exit(0);
  };
  ::sigaction(SIGTERM, &quit, nullptr);
  ::close(report);
  int owner = from.owner;
  for (;;) {
    pollfd waits[2] = {{from.park_socket, POLLIN, 0}, {owner, POLLIN, 0}};
    if (::poll(waits, owner >= 0 ? 2 : 1, -1) < 0)
      continue;
    if (waits[1].revents != 0)
      ::_exit(0); // the pool's keeper is gone: nobody will drain us
    int conn = ::accept4(from.park_socket, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0)
      continue;
    timeval patience{2, 0}; // a connection that never speaks is dropped
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    char buf[128];
    std::string line;
    for (ssize_t n; line.find('\n') == std::string::npos
                    && (n = ::read(conn, buf, sizeof(buf))) > 0
                    && line.size() < 512;)
      line.append(buf, static_cast<size_t>(n));
    auto end = line.find('\n');
    if (end == std::string::npos) { // a claimer that went away
      ::close(conn);
      continue;
    }
    hostname = line.substr(0, end);
    if (!valid_hostname(hostname))
      fail_setup(conn, "invalid hostname '" + hostname + "'");
    // Its one connection is long over: the slot was offered after it.
    ::kill(first, SIGKILL);
    ::waitpid(first, nullptr, 0);
    ::close(from.park_socket);
    quit.sa_handler = SIG_DFL;
    ::sigaction(SIGTERM, &quit, nullptr);
    return conn;
  }
}

// The channels between the launcher and PID 1 during set-up.
struct handshake {
  int report[2] = {-1, -1}; ///< PID 1 -> launcher: error text, EOF = done
  int to_child[2] = {-1, -1}; ///< launcher -> PID 1: steps
  int to_parent[2] = {-1, -1}; ///< PID 1 -> launcher: steps
};

// PID 1 of the sandbox, root of its user namespace: build everything, then
// become the agent. Errors go back to the launcher through `report`
// (closed by exec on success).
[[noreturn]] void sandbox_init(const launch_spec& spec, const id_map& map,
                               handshake& hs, inherited from, int slirp_exit) {
  int report = hs.report[1];
  auto fail = [&report](const std::string& message) {
    fail_setup(report, message);
  };
  if (!await_step(hs.to_child[0]))
    ::_exit(1); // the launcher is gone
  // Nothing in the sandbox may ever ptrace or read the memory of PID 1.
  // Only now: until its id maps are written, an unprivileged launcher
  // needs this process's /proc files to be its own, which a process that
  // is not dumpable does not have.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Root of the new user namespace: ids 0 inside, the map's outside.
  if (map.shifted()
      && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0
          || ::setgroups(0, nullptr) != 0))
    fail(errno_message("cannot become root of the sandbox's user namespace"));
  if (::chdir("/") != 0)
    fail(errno_message("chdir /"));
  if (auto err = enter_namespaces(); !err.empty())
    fail(err);
  taken_layers taken;
  if (map.shifted()) {
    signal_step(hs.to_parent[1]); // the launcher's helper takes them now
    if (!receive_layers(from.layers_channel, taken))
      fail("the sandbox's layers did not arrive");
  } else if (auto err = take_layers(spec, taken); !err.empty()) {
    fail(err);
  }
  if (auto err = stage(); !err.empty())
    fail(err);
  if (auto err = attach_layers(taken); !err.empty())
    fail(err);
  ::close(taken.lower);
  ::close(taken.layers);
  if (auto err = build_root(spec); !err.empty())
    fail(err);
  if (::listen(from.agent_socket, 512) != 0)
    fail(errno_message("listen on the agent socket"));
  if (spec.park) {
    std::string hostname;
    report = park(report, from, hostname);
    if (::sethostname(hostname.data(), hostname.size()) != 0)
      fail(errno_message("sethostname"));
  }
  if (auto err = drop_capabilities(); !err.empty())
    fail(err);
  if (auto err = install_seccomp_filter(); !err.empty())
    fail(err);
  // Nothing of the launcher's may leak into the sandbox but stdio and the
  // report pipe, which exec closes...
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  // ...and the pipe whose closing, when the sandbox's last process is gone,
  // ends its slirp4netns.
  if (slirp_exit >= 0)
    ::fcntl(slirp_exit, F_SETFD, 0);
  exec_agent(from, from.agent_socket, false);
  fail_setup(report, errno_message("exec the agent"));
}

// Waits for a previous sandbox of this workspace to let go of its disk:
// its mounts are released shortly after its last process ends.
std::string wait_for_disk(const launch_spec& spec) {
  if (spec.disk_image.empty())
    return {};
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (disk_image_in_use(spec.disk_image.string())) {
    if (std::chrono::steady_clock::now() >= deadline)
      return "the disk of workspace '" + spec.workspace_id
             + "' is still in use by an earlier sandbox of it; stop that "
               "one first";
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

// Root's part of the set-up, from a child of the launcher: takes the
// layers as idmapped mounts in the sandbox's mount namespace and sends
// them to PID 1.
std::string supply_layers(const launch_spec& spec, pid_t sandbox, int channel) {
  auto ns = "/proc/" + std::to_string(sandbox) + "/ns/user";
  int userns = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
  if (userns < 0)
    return errno_message("cannot open the sandbox's user namespace");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return errno_message("pipe2");
  pid_t helper = ::fork();
  if (helper == 0) {
    ::close(out[0]);
    taken_layers taken;
    auto err = take_layers_idmapped(spec, sandbox, userns, taken);
    if (err.empty() && !send_layers(channel, taken))
      err = errno_message("cannot hand the layers to the sandbox");
    [[maybe_unused]] auto n = ::write(out[1], err.data(), err.size());
    ::_exit(err.empty() ? 0 : 1);
  }
  ::close(out[1]);
  ::close(userns);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;)
    message.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  if (helper < 0)
    return errno_message("fork");
  ::waitpid(helper, nullptr, 0);
  return message;
}

int refuse(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return 1;
}

} // namespace

int launch_sandbox(const launch_spec& spec) {
  // A session of its own: the sandbox must not die with the terminal or
  // the process group of the pyro command that started it.
  ::setsid();
  auto map = sandbox_id_map();
  if (!map)
    return refuse(map.err().message);
  if (auto err = wait_for_disk(spec); !err.empty())
    return refuse(err);
  // slirp4netns starts from here, before the sandbox and its cgroup: it
  // must stay invisible to the sandbox and outside its limits.
  std::optional<slirp_link> slirp;
  if (spec.network_policy != "off") {
    auto forked
      = fork_slirp(spec.slirp_binary, spec.slirp_socket, spec.log_file);
    if (!forked)
      return refuse(forked.err().message);
    slirp = *forked;
  }
  // The launcher joins the cgroups first, so that PID 1 is born in them.
  auto limits = apply_cgroup_limits(spec.workspace_id, ::getpid(),
                                    spec.vcpu_count, spec.mem_mib);
  auto cgroup = delegate_cgroup(spec.workspace_id, ::getpid(), map->host_uid,
                                map->host_gid);
  inherited from;
  if (!cgroup.empty())
    from.cgroup = ::open(cgroup.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  from.agent_socket = bind_socket(spec.socket_dir / agent_socket_name);
  if (from.agent_socket < 0)
    return refuse(errno_message("cannot bind the agent socket in "
                                + spec.socket_dir.string()));
  if (spec.park) {
    from.park_socket = bind_socket(spec.socket_dir / park_socket_name);
    if (from.park_socket < 0)
      return refuse(errno_message("cannot bind the park socket"));
  }
  from.agent_binary
    = ::open(spec.agent_binary.c_str(), O_RDONLY | O_CLOEXEC);
  if (from.agent_binary < 0)
    return refuse(errno_message("cannot open the agent "
                                + spec.agent_binary.string()));
  // Opened while the owner is surely alive (it waits for us).
  if (spec.park && spec.owner_pid > 0) {
    from.owner = static_cast<int>(::syscall(SYS_pidfd_open, spec.owner_pid, 0));
    if (from.owner < 0)
      return refuse(errno_message("cannot watch the pool's keeper (pid "
                                  + std::to_string(spec.owner_pid) + ")"));
    ::fcntl(from.owner, F_SETFD, FD_CLOEXEC);
  }
  handshake hs;
  int channel[2] = {-1, -1};
  if (::pipe2(hs.report, O_CLOEXEC) != 0 || ::pipe2(hs.to_child, O_CLOEXEC) != 0
      || ::pipe2(hs.to_parent, O_CLOEXEC) != 0
      || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0)
    return refuse(errno_message("pipe2"));
  from.layers_channel = channel[1];
  int log = ::open(spec.log_file.c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  // The user namespace first, and the pid namespace owned by it: PID 1 is
  // born root of both, and every namespace it makes belongs to it.
  pid_t child = static_cast<pid_t>(
    ::syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, nullptr,
              nullptr, nullptr, nullptr));
  if (child < 0)
    return refuse(errno_message("cannot create the sandbox's user and pid "
                                "namespaces"));
  if (child == 0) {
    ::close(hs.report[0]);
    ::close(hs.to_child[1]);
    ::close(hs.to_parent[0]);
    ::close(channel[0]);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    if (slirp) {
      ::close(slirp->pid_write);
      ::close(slirp->ready_read);
    }
    sandbox_init(spec, *map, hs, from, slirp ? slirp->exit_write : -1);
  }
  ::close(hs.report[1]);
  ::close(hs.to_child[0]);
  ::close(hs.to_parent[1]);
  ::close(channel[1]);
  if (slirp)
    ::close(slirp->exit_write); // the sandbox holds the only copy now
  auto abandon = [&](const std::string& message) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    return refuse("sandbox set-up failed: " + message);
  };
  if (auto err = write_id_map(child, *map); !err.empty())
    return abandon(err);
  signal_step(hs.to_child[1]);
  if (map->shifted()) {
    if (!await_step(hs.to_parent[0]))
      return abandon("PID 1 ended before its layers were taken");
    if (auto err = supply_layers(spec, child, channel[0]); !err.empty())
      return abandon(err);
  }
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(hs.report[0], buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    message.append(buf, static_cast<size_t>(n));
  }
  if (!message.empty()) {
    ::waitpid(child, nullptr, 0);
    std::fprintf(stderr, "sandbox set-up failed: %s", message.c_str());
    return 1;
  }
  if (slirp) {
    if (auto up = start_slirp(*slirp, child); !up) {
      ::kill(child, SIGKILL);
      return refuse(up.err().message);
    }
  }
  nlohmann::json record = process_identity_of(child);
  if (slirp)
    record["slirp_pid"] = slirp->pid;
  // A pooled sandbox keeps the cgroup named after its pool slot.
  record["cgroup"] = spec.workspace_id;
  record["ids"] = {{"uid", map->host_uid},
                   {"gid", map->host_gid},
                   {"count", map->count}};
  record["limits"] = {{"cpu", limits.cpu},
                      {"memory", limits.memory},
                      {"pids", limits.pids},
                      {"disk", !spec.disk_image.empty()},
                      {"command_groups", !cgroup.empty()},
                      {"note", limits.note}};
  if (auto written = sys::write_file_atomic(spec.pid_file, record.dump());
      !written) {
    ::kill(child, SIGKILL);
    return refuse(written.err().message);
  }
  return 0;
}

} // namespace pyro::vmm
