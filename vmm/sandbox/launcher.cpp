#include "vmm/sandbox/launcher.hpp"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/process_identity.hpp"
#include "vmm/sandbox/cgroups.hpp"
#include "vmm/sandbox/confinement.hpp"
#include "vmm/sandbox/slirp.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

// Set-up steps run in the sandbox's PID 1 before exec; each returns an error
// message or empty.
using step_error = std::string;

step_error errno_message(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

step_error do_mount(const char* source, const fs::path& target,
                    const char* type, unsigned long flags,
                    const char* data = nullptr) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    return errno_message(std::string{"mount "} + (type ? type : "bind") + " on "
                         + target.string());
  return {};
}

step_error make_dir(const fs::path& dir, mode_t mode = 0755) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return errno_message("mkdir " + dir.string());
  return {};
}

step_error bind_file(const fs::path& source, const fs::path& target,
                     bool read_only) {
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno_message("create " + target.string());
  ::close(fd);
  if (auto err = do_mount(source.c_str(), target, nullptr, MS_BIND);
      !err.empty())
    return err;
  if (!read_only)
    return {};
  // In a user namespace the source mount's nodev/noexec/... are locked and
  // a remount must keep them.
  unsigned long kept = 0;
  struct statvfs st {};
  if (::statvfs(target.c_str(), &st) == 0) {
    if (st.f_flag & ST_NODEV)
      kept |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC)
      kept |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME)
      kept |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME)
      kept |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME)
      kept |= MS_RELATIME;
  }
  return do_mount(nullptr, target, nullptr,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | kept);
}

// Unprivileged: a user namespace in which the caller is root, so the rest
// of the set-up runs as for root; nothing maps to any other host id.
step_error enter_user_namespace() {
  auto uid = ::getuid();
  auto gid = ::getgid();
  if (::unshare(CLONE_NEWUSER) != 0)
    return errno_message("cannot create a user namespace");
  auto write_file = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0
              && ::write(fd, text.data(), text.size())
                   == static_cast<ssize_t>(text.size());
    if (fd >= 0)
      ::close(fd);
    return ok;
  };
  if (!write_file("/proc/self/setgroups", "deny")
      || !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1")
      || !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
    return errno_message("cannot map ids into the user namespace");
  return {};
}

step_error set_up_dev(const fs::path& root) {
  auto dev = root / "dev";
  if (auto err = make_dir(dev); !err.empty())
    return err;
  if (auto err = do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
                          "mode=755,size=65536k");
      !err.empty())
    return err;
  // Bind the host's harmless character devices: works without CAP_MKNOD.
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"})
    if (auto err = bind_file(fs::path{"/dev"} / name, dev / name, false);
        !err.empty())
      return err;
  if (auto err = make_dir(dev / "pts"); !err.empty())
    return err;
  if (auto err
      = do_mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=620");
      !err.empty())
    return err;
  if (auto err = make_dir(dev / "shm", 01777); !err.empty())
    return err;
  if (auto err = do_mount("tmpfs", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV,
                          "mode=1777");
      !err.empty())
    return err;
  const std::pair<const char*, const char*> links[] = {
    {"pts/ptmx", "ptmx"},          {"/proc/self/fd", "fd"},
    {"/proc/self/fd/0", "stdin"},  {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"},
  };
  for (const auto& [target, name] : links)
    if (::symlink(target, (dev / name).c_str()) != 0)
      return errno_message(std::string{"symlink /dev/"} + name);
  return {};
}

step_error bring_up_loopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno_message("socket for lo");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  step_error err;
  if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    err = errno_message("SIOCGIFFLAGS lo");
  } else {
    req.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0)
      err = errno_message("SIOCSIFFLAGS lo");
  }
  ::close(fd);
  return err;
}

step_error build_root(const launch_spec& spec) {
  const auto& root = spec.mount_point;
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
                | CLONE_NEWCGROUP)
      != 0)
    return errno_message("cannot create the sandbox namespaces");
  if (auto err = do_mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
      !err.empty())
    return err;
  std::string overlay = "lowerdir=" + spec.lower.string()
                        + ",upperdir=" + spec.upper.string()
                        + ",workdir=" + spec.work.string();
  if (auto err = do_mount("overlay", root, "overlay", 0, overlay.c_str());
      !err.empty())
    return err;
  for (const char* dir : {"proc", "sys", "run", "tmp", "workspace"})
    if (auto err = make_dir(root / dir); !err.empty())
      return err;
  ::chmod((root / "tmp").c_str(), 01777);
  if (auto err = do_mount("proc", root / "proc", "proc",
                          MS_NOSUID | MS_NODEV | MS_NOEXEC);
      !err.empty())
    return err;
  // sysfs is informational only; a host that refuses it still gets a
  // working sandbox.
  do_mount("sysfs", root / "sys", "sysfs",
           MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (auto err = set_up_dev(root); !err.empty())
    return err;
  auto run = root / "run";
  if (auto err
      = do_mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
      !err.empty())
    return err;
  auto host_dir = run / fs::path{guest_socket_dir}.filename();
  if (auto err = make_dir(host_dir); !err.empty())
    return err;
  if (auto err = do_mount(spec.socket_dir.c_str(), host_dir, nullptr, MS_BIND);
      !err.empty())
    return err;
  if (auto err = bind_file(spec.agent_binary,
                           run / fs::path{guest_agent_path}.filename(), true);
      !err.empty())
    return err;
  if (!spec.park
      && ::sethostname(spec.workspace_id.data(), spec.workspace_id.size()) != 0)
    return errno_message("sethostname");
  if (spec.network_policy != "off") {
    // slirp4netns answers DNS on 10.0.2.3. Unlinked first: a symlink in
    // the image must not be followed out of the root before pivot_root.
    auto resolv = root / "etc" / "resolv.conf";
    ::mkdir((root / "etc").c_str(), 0755);
    ::unlink(resolv.c_str());
    int fd = ::open(resolv.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
      return errno_message("create /etc/resolv.conf");
    static constexpr char line[] = "nameserver 10.0.2.3\n";
    [[maybe_unused]] auto n = ::write(fd, line, sizeof(line) - 1);
    ::close(fd);
  }
  if (auto err = bring_up_loopback(); !err.empty())
    return err;
  // pivot_root(".", ".") stacks the old root under the new one; detaching
  // it leaves nothing of the host visible.
  if (::chdir(root.c_str()) != 0)
    return errno_message("chdir " + root.string());
  if (::syscall(SYS_pivot_root, ".", ".") != 0)
    return errno_message("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0)
    return errno_message("detach the old root");
  if (::chdir("/") != 0)
    return errno_message("chdir /");
  return {};
}

[[noreturn]] void fail_setup(int report, const std::string& message) {
  auto line = message + "\n";
  [[maybe_unused]] auto n = ::write(report, line.data(), line.size());
  ::_exit(1);
}

// A listening Unix socket at a path of the bind-mounted socket dir.
int listen_at(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(path.c_str());
  if (fd < 0
      || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 512) != 0)
    return -1;
  return fd;
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
void exec_agent(int fd, bool once) {
  ::fcntl(fd, F_SETFD, 0);
  auto listen = "fd:" + std::to_string(fd);
  std::vector<const char*> argv
    = {guest_agent_path, "--listen", listen.c_str(), "--sandbox"};
  if (once)
    argv.push_back("--once");
  argv.push_back(nullptr);
  const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                        "/usr/bin:/sbin:/bin",
                        "HOME=/root", "TERM=xterm-256color", nullptr};
  ::execve(guest_agent_path, const_cast<char* const*>(argv.data()),
           const_cast<char* const*>(envp));
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
int park(int report, int owner, std::string& hostname, int& agent) {
  std::string dir = guest_socket_dir;
  agent = listen_at(dir + "/" + agent_socket_name);
  if (agent < 0)
    fail_setup(report, errno_message("listen on the agent socket"));
  auto park_path = dir + "/" + park_socket_name;
  int claims = listen_at(park_path);
  if (claims < 0)
    fail_setup(report, errno_message("listen on the park socket"));
  pid_t first = ::fork();
  if (first < 0)
    fail_setup(report, errno_message("fork the baseline agent"));
  if (first == 0) {
    exec_agent(agent, true);
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
  for (;;) {
    pollfd waits[2] = {{claims, POLLIN, 0}, {owner, POLLIN, 0}};
    if (::poll(waits, owner >= 0 ? 2 : 1, -1) < 0)
      continue;
    if (waits[1].revents != 0)
      ::_exit(0); // the pool's keeper is gone: nobody will drain us
    int conn = ::accept4(claims, nullptr, nullptr, SOCK_CLOEXEC);
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
    ::close(claims);
    ::unlink(park_path.c_str());
    quit.sa_handler = SIG_DFL;
    ::sigaction(SIGTERM, &quit, nullptr);
    return conn;
  }
}

// PID 1 of the sandbox: build everything, then become the agent. Errors go
// back to the launcher through `report` (closed by exec on success).
[[noreturn]] void sandbox_init(const launch_spec& spec, int report,
                               int slirp_exit, int owner) {
  auto fail = [&report](const std::string& message) {
    fail_setup(report, message);
  };
  if (auto err = build_root(spec); !err.empty())
    fail(err);
  int agent_fd = -1;
  if (spec.park) {
    std::string hostname;
    report = park(report, owner, hostname, agent_fd);
    if (::sethostname(hostname.data(), hostname.size()) != 0)
      fail(errno_message("sethostname"));
  } else {
    agent_fd
      = listen_at(std::string{guest_socket_dir} + "/" + agent_socket_name);
    if (agent_fd < 0)
      fail(errno_message("listen on the agent socket"));
  }
  if (auto err = drop_capabilities(); !err.empty())
    fail(err);
  if (auto err = install_seccomp_filter(); !err.empty())
    fail(err);
  // Nothing of the launcher's may leak into the sandbox but stdio and the
  // report pipe, which exec closes.
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  // ...and the pipe whose closing, when the sandbox's last process is gone,
  // ends its slirp4netns.
  if (slirp_exit >= 0)
    ::fcntl(slirp_exit, F_SETFD, 0);
  exec_agent(agent_fd, false);
  fail_setup(report, errno_message(std::string{"exec "} + guest_agent_path));
}

} // namespace

int launch_sandbox(const launch_spec& spec) {
  // A session of its own: the sandbox must not die with the terminal or
  // the process group of the pyro command that started it.
  ::setsid();
  // slirp4netns starts from here, before the pid namespace and the cgroup:
  // it must stay invisible to the sandbox and outside its limits.
  std::optional<slirp_link> slirp;
  if (spec.network_policy != "off") {
    auto forked
      = fork_slirp(spec.slirp_binary, spec.slirp_socket, spec.log_file);
    if (!forked) {
      std::fprintf(stderr, "%s\n", forked.err().message.c_str());
      return 1;
    }
    slirp = *forked;
  }
  auto limits = apply_cgroup_limits(spec.workspace_id, ::getpid(),
                                    spec.vcpu_count, spec.mem_mib);
  if (::geteuid() != 0) {
    if (auto err = enter_user_namespace(); !err.empty()) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }
  }
  // Opened while the owner is surely alive (it waits for us); it stays
  // valid across the namespaces below.
  int owner = -1;
  if (spec.park && spec.owner_pid > 0) {
    owner = static_cast<int>(::syscall(SYS_pidfd_open, spec.owner_pid, 0));
    if (owner < 0) {
      std::fprintf(stderr, "cannot watch the pool's keeper (pid %d): %s\n",
                   spec.owner_pid, std::strerror(errno));
      return 1;
    }
    ::fcntl(owner, F_SETFD, FD_CLOEXEC);
  }
  // Only the pid namespace here: it applies to the child. The child makes
  // the rest itself, so that its pivot_root never changes our own root.
  if (::unshare(CLONE_NEWPID) != 0) {
    std::fprintf(stderr, "cannot create the sandbox namespaces: %s\n",
                 std::strerror(errno));
    return 1;
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    return 1;
  }
  int log = ::open(spec.log_file.c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    ::close(report[0]);
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
    sandbox_init(spec, report[1], slirp ? slirp->exit_write : -1, owner);
  }
  ::close(report[1]);
  if (slirp)
    ::close(slirp->exit_write); // the sandbox holds the only copy now
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(report[0], buf, sizeof(buf))) != 0;) {
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
      std::fprintf(stderr, "%s\n", up.err().message.c_str());
      return 1;
    }
  }
  nlohmann::json record = process_identity_of(child);
  if (slirp)
    record["slirp_pid"] = slirp->pid;
  // A pooled sandbox keeps the cgroup named after its pool slot.
  record["cgroup"] = spec.workspace_id;
  record["limits"] = {{"cpu", limits.cpu},
                      {"memory", limits.memory},
                      {"pids", limits.pids},
                      {"note", limits.note}};
  if (auto written = sys::write_file_atomic(spec.pid_file, record.dump());
      !written) {
    std::fprintf(stderr, "%s\n", written.err().message.c_str());
    ::kill(child, SIGKILL);
    return 1;
  }
  return 0;
}

} // namespace pyro::vmm
