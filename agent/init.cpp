#include "agent/init.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/ops.hpp"
#include "agent/process_table.hpp"

namespace pyro::agent {

namespace {

extern "C" void on_terminate(int, siginfo_t* info, void*) {
  // As PID 1 (sandbox, VM) only a signal from outside the pid namespace
  // (sender pid 0 here) stops the agent: the workload must not be able to
  // end its own sandbox behind the host's back.
  if (::getpid() == 1 && info != nullptr && info->si_pid != 0)
    return;
  // Flush what the sandbox wrote, then go; as PID 1 this ends the sandbox,
  // on the host the children's groups have to be ended by hand.
  process_table::kill_all_groups();
  ::sync();
  ::_exit(0);
}

// The initramfs stage moved /dev, /proc and /sys here and put the agent in
// /run: mounting over them again would hide what is there.
bool is_mount_point(const char* path) {
  struct stat self {};
  struct stat parent {};
  std::string up = std::string{path} + "/..";
  return ::stat(path, &self) == 0 && ::stat(up.c_str(), &parent) == 0
         && self.st_dev != parent.st_dev;
}

void mount_quietly(const char* source, const char* target, const char* type,
                   unsigned long flags, const char* data = nullptr) {
  ::mkdir(target, 0755);
  if (!is_mount_point(target))
    ::mount(source, target, type, flags, data);
}

// Policy off still means a working loopback, as in a sandbox.
void loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &req) == 0) {
    req.ifr_flags |= IFF_UP;
    ::ioctl(fd, SIOCSIFFLAGS, &req);
  }
  ::close(fd);
}

// `pyro.hostname=NAME` from the kernel command line the VM was booted with.
std::string hostname_from_cmdline() {
  std::ifstream in{"/proc/cmdline"};
  std::string word;
  while (in >> word)
    if (word.rfind("pyro.hostname=", 0) == 0)
      return word.substr(14);
  return {};
}

// A VM's PID 1 has nothing mounted; a sandbox's launcher did it already.
void init_duties(agent_context& ctx) {
  mount_quietly("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (ctx.hostname.empty())
    ctx.hostname = hostname_from_cmdline();
  if (!ctx.hostname.empty())
    ::sethostname(ctx.hostname.data(), ctx.hostname.size());
  mount_quietly("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount_quietly("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_quietly("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                "ptmxmode=0666,mode=620");
  mount_quietly("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mount_quietly("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  // The guest's own cgroup hierarchy holds one group per command.
  mount_quietly("cgroup2", "/sys/fs/cgroup", "cgroup2",
                MS_NOSUID | MS_NODEV | MS_NOEXEC);
  loopback_up();
}

} // namespace

status prepare(agent_context& ctx) {
  if (::getpid() == 1 && ctx.mode == "vm")
    init_duties(ctx);
  else if (::getpid() != 1)
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop {};
  stop.sa_sigaction = on_terminate;
  stop.sa_flags = SA_SIGINFO;
  ::sigaction(SIGTERM, &stop, nullptr);
  ::sigaction(SIGINT, &stop, nullptr);
  // Not dumpable: without CAP_SYS_PTRACE (dropped in sandboxes) nothing
  // the workload runs can ptrace the agent, read its memory or its
  // descriptors in /proc, or freeze it.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (const char* v = std::getenv("PYRO_AGENT_NO_OPENAT2"); v && *v == '1')
    ctx.no_openat2 = true;
  ctx.root_fd = ::open(ctx.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (ctx.root_fd < 0)
    return make_error(error_code::failed_precondition,
                      "cannot open the root " + ctx.root + ": "
                        + std::strerror(errno));
  ::mkdirat(ctx.root_fd, "workspace", 0755);
  ctx.workspace_fd = ::openat(ctx.root_fd, "workspace",
                              O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (ctx.workspace_fd < 0)
    return make_error(error_code::failed_precondition,
                      "cannot open " + ctx.root
                        + "/workspace: " + std::strerror(errno));
  remove_import_remains(ctx.root_fd);
  if (ctx.mode == "vm" && ::getpid() == 1)
    // Best effort: without it commands fall back to process groups.
    static_cast<void>(
      cgroup_tree::instance().adopt_path("/sys/fs/cgroup", false));
  process_table::instance().start_reaper();
  return {};
}

} // namespace pyro::agent
