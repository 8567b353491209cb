#include "vmm/sandbox/root_setup.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/sandbox/layers.hpp"
#include "vmm/sandbox/proc_masks.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

std::string errno_message(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string do_mount(const char* source, const fs::path& target,
                     const char* type, unsigned long flags,
                     const char* data = nullptr) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    return errno_message(std::string{"mount "} + (type ? type : "bind") + " on "
                         + target.string());
  return {};
}

std::string make_dir(const fs::path& dir, mode_t mode = 0755) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return errno_message("mkdir " + dir.string());
  return {};
}

std::string bind_device(const fs::path& source, const fs::path& target) {
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno_message("create " + target.string());
  ::close(fd);
  return do_mount(source.c_str(), target, nullptr, MS_BIND);
}

std::string set_up_dev(const fs::path& root) {
  auto dev = root / "dev";
  if (auto err = make_dir(dev); !err.empty())
    return err;
  if (auto err = do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
                          "mode=755,size=65536k");
      !err.empty())
    return err;
  // The host's harmless character devices: binds need no CAP_MKNOD.
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"})
    if (auto err = bind_device(fs::path{"/dev"} / name, dev / name);
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

std::string bring_up_loopback() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno_message("socket for lo");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  std::string err;
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

// slirp4netns answers DNS on 10.0.2.3. Unlinked first: a symlink in the
// image must not be followed out of the root before pivot_root.
std::string write_resolv_conf(const fs::path& root) {
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
  return {};
}

std::string mount_overlay(const fs::path& root) {
  // Relative layer names (the staging dir is the working directory), so
  // that the sandbox's mountinfo shows no host path.
  if (::chdir(staging_dir) != 0)
    return errno_message("chdir to the staging dir");
  return do_mount("overlay", root, "overlay", 0, staged_overlay_options);
}

std::string mount_kernel_file_systems(const fs::path& root) {
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
  if (auto err = mask_proc_and_sys(root); !err.empty())
    return err;
  if (auto err = set_up_dev(root); !err.empty())
    return err;
  return do_mount("tmpfs", root / "run", "tmpfs", MS_NOSUID | MS_NODEV,
                  "mode=755");
}

} // namespace

std::string enter_namespaces() {
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
                | CLONE_NEWCGROUP)
      != 0)
    return errno_message("cannot create the sandbox namespaces");
  return do_mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
}

std::string stage() {
  fs::path staging = staging_dir;
  if (auto err = do_mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV,
                          "mode=700");
      !err.empty())
    return err;
  for (const char* dir : {staged_lower, staged_layers, staged_root})
    if (auto err = make_dir(staging / dir); !err.empty())
      return err;
  return {};
}

std::string build_root(const launch_spec& spec) {
  auto root = fs::path{staging_dir} / staged_root;
  if (auto err = mount_overlay(root); !err.empty())
    return err;
  if (auto err = mount_kernel_file_systems(root); !err.empty())
    return err;
  if (!spec.park
      && ::sethostname(spec.workspace_id.data(), spec.workspace_id.size()) != 0)
    return errno_message("sethostname");
  if (spec.network_policy != "off")
    if (auto err = write_resolv_conf(root); !err.empty())
      return err;
  if (auto err = bring_up_loopback(); !err.empty())
    return err;
  // pivot_root(".", ".") stacks the old root under the new one; detaching
  // it takes the staging tmpfs and everything of the host with it.
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

} // namespace pyro::vmm
