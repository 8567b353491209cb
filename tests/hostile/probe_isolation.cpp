// ptrace, mount, namespaces, raw sockets and devices: the walls between the
// sandbox's processes and mounts and the host's.

#include "probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <utility>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

namespace pyro::hostile {

namespace {

// From linux/mount.h, which clashes with glibc's sys/mount.h.
constexpr unsigned open_tree_clone = 1;
constexpr unsigned fsopen_cloexec = 1;

unsigned long first_mapping_of_pid1() {
  std::ifstream maps{"/proc/1/maps"};
  std::string range;
  if (!(maps >> range))
    return 0x10000; // unreadable: the call below is refused before use
  return std::strtoul(range.c_str(), nullptr, 16);
}

struct scratch_dir {
  std::string path;
  scratch_dir() {
    char templ[] = "/tmp/pyro-hostile-XXXXXX";
    if (::mkdtemp(templ))
      path = templ;
    ::mkdir((path + "/a").c_str(), 0700);
    ::mkdir((path + "/b").c_str(), 0700);
  }
  ~scratch_dir() {
    ::umount2((path + "/b").c_str(), MNT_DETACH);
    ::rmdir((path + "/a").c_str());
    ::rmdir((path + "/b").c_str());
    ::rmdir(path.c_str());
  }
};

} // namespace

void probe_ptrace() {
  constexpr const char* category = "ptrace";
  // Seized, not stopped; the child's exit detaches it again.
  report_call(category, "PTRACE_SEIZE pid 1", in_child([] {
                return returned(::ptrace(PTRACE_SEIZE, 1, nullptr, nullptr));
              }),
              "attached");
  char byte;
  iovec local{&byte, 1};
  iovec remote{reinterpret_cast<void*>(first_mapping_of_pid1()), 1};
  report_gate(category, "process_vm_readv pid 1",
              returned(::process_vm_readv(1, &local, 1, &remote, 1, 0)),
              {EFAULT, EIO});
  int fd = ::open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
  report_call(category, "open /proc/1/mem", returned(fd), "opened");
  if (fd >= 0)
    ::close(fd);
}

void probe_mount() {
  constexpr const char* category = "mount";
  scratch_dir dir;
  auto a = dir.path + "/a";
  auto b = dir.path + "/b";
  auto r = returned(::mount("none", b.c_str(), "tmpfs", 0, "size=64k"));
  if (r.rc == 0)
    ::umount2(b.c_str(), MNT_DETACH);
  report_call(category, "mount tmpfs", r, "mounted (unmounted again)");
  r = returned(::mount(a.c_str(), b.c_str(), nullptr, MS_BIND, nullptr));
  if (r.rc == 0)
    ::umount2(b.c_str(), MNT_DETACH);
  report_call(category, "mount --bind", r, "mounted (unmounted again)");
  // MNT_EXPIRE only marks an idle mount on a first call (EAGAIN), so the
  // permission check runs without /proc going away; the stat right after
  // clears the mark.
  r = returned(::umount2("/proc", MNT_EXPIRE));
  struct stat st;
  (void)::stat("/proc/self/stat", &st);
  report_gate(category, "umount /proc", r, {EAGAIN, EBUSY});
  // Not a mount point: EINVAL once past the check.
  report_gate(
    category, "pivot_root",
    returned(::syscall(SYS_pivot_root, dir.path.c_str(), dir.path.c_str())),
    {EINVAL, EBUSY});
  r = returned(
    ::syscall(SYS_open_tree, AT_FDCWD, a.c_str(), open_tree_clone | O_CLOEXEC));
  if (r.rc >= 0)
    ::close(static_cast<int>(r.rc));
  report_call(category, "open_tree clone", r, "cloned a mount tree");
  r = returned(::syscall(SYS_fsopen, "tmpfs", fsopen_cloexec));
  if (r.rc >= 0)
    ::close(static_cast<int>(r.rc));
  report_call(category, "fsopen tmpfs", r, "opened a file system context");
}

void probe_namespaces() {
  constexpr const char* category = "namespaces";
  for (auto [flag, name] : {std::pair{CLONE_NEWUSER, "unshare user"},
                            std::pair{CLONE_NEWNS, "unshare mount"},
                            std::pair{CLONE_NEWNET, "unshare net"},
                            std::pair{CLONE_NEWPID, "unshare pid"}}) {
    int f = flag;
    report_call(category, name,
                in_child([f] { return returned(::unshare(f)); }));
  }
  report_call(category, "setns mount of pid 1", in_child([] {
                int fd = ::open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                  return returned(-1);
                return returned(::setns(fd, CLONE_NEWNS));
              }));
}

void probe_raw_sockets() {
  constexpr const char* category = "raw_sockets";
  auto attempt = [&](const char* name, int domain, int protocol) {
    auto r = returned(::socket(domain, SOCK_RAW | SOCK_CLOEXEC, protocol));
    if (r.rc >= 0)
      ::close(static_cast<int>(r.rc));
    report_call(category, name, r, "opened");
  };
  attempt("AF_PACKET SOCK_RAW", AF_PACKET, htons(ETH_P_ALL));
  attempt("AF_INET SOCK_RAW ICMP", AF_INET, IPPROTO_ICMP);
}

void probe_devices() {
  constexpr const char* category = "devices";
  // Opened read-only and closed: opening is what the sandbox must refuse.
  auto attempt = [&](const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    report_call(category, "open " + path, returned(fd), "opened");
    if (fd >= 0)
      ::close(fd);
  };
  std::vector<std::string> named{
    "/dev/mem",     "/dev/kmem",         "/dev/port", "/dev/sda", "/dev/vda",
    "/dev/nvme0n1", "/dev/loop-control", "/dev/kvm",  "/dev/fuse"};
  for (const auto& path : named)
    attempt(path);
  // Any other block device the sandbox's /dev holds.
  std::vector<std::string> block;
  if (DIR* d = ::opendir("/dev")) {
    while (dirent* e = ::readdir(d)) {
      auto path = std::string{"/dev/"} + e->d_name;
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)
          && std::find(named.begin(), named.end(), path) == named.end())
        block.push_back(path);
    }
    ::closedir(d);
  }
  std::sort(block.begin(), block.end());
  for (const auto& path : block)
    attempt(path);
  auto node = "/tmp/pyro-hostile-null-" + std::to_string(::getpid());
  auto r = returned(::mknod(node.c_str(), S_IFCHR | 0600, ::makedev(1, 3)));
  if (r.rc == 0)
    ::unlink(node.c_str());
  report_call(category, "mknod c 1 3", r, "made a device node (removed)");
}

} // namespace pyro::hostile
