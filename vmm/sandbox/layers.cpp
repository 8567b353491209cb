#include "vmm/sandbox/layers.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Closes a descriptor when the scope ends.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

// On-disk ids 0..count-1 of the mount appear as the map's host ids, which
// are 0..count-1 inside the sandbox.
std::string shift_ids(int mount_fd, int userns_fd, uint64_t more_flags) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                  | more_flags;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (::mount_setattr(mount_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0)
    return errno_text("cannot map the sandbox's ids onto its files "
                      "(idmapped mounts need Linux 5.19 or later)");
  return {};
}

std::string attach(int mount_fd, const fs::path& target) {
  if (::move_mount(mount_fd, "", AT_FDCWD, target.c_str(),
                   MOVE_MOUNT_F_EMPTY_PATH)
      != 0)
    return errno_text("cannot attach " + target.string());
  return {};
}

// A loop device serving `image`, released by the kernel when its last user
// goes: `held` keeps it until the sandbox's mount has taken over.
std::string attach_loop(const std::string& image, std::string& device,
                        fd_guard& held) {
  fd_guard control{::open("/dev/loop-control", O_RDWR | O_CLOEXEC)};
  if (control.fd < 0)
    return errno_text("cannot open /dev/loop-control for the workspace disk");
  fd_guard backing{::open(image.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)};
  if (backing.fd < 0)
    return errno_text("cannot open the workspace disk " + image);
  // Another launcher may take the same free device first: try the next.
  for (int tries = 0; tries < 64; ++tries) {
    int n = ::ioctl(control.fd, LOOP_CTL_GET_FREE);
    if (n < 0)
      return errno_text("no free loop device for the workspace disk");
    device = "/dev/loop" + std::to_string(n);
    fd_guard loop{::open(device.c_str(), O_RDWR | O_CLOEXEC)};
    if (loop.fd < 0)
      return errno_text("cannot open " + device);
    loop_config config{};
    config.fd = static_cast<uint32_t>(backing.fd);
    // Buffered: direct I/O through LOOP_CONFIGURE fails reads on some
    // kernels ("unable to read superblock").
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    if (::ioctl(loop.fd, LOOP_CONFIGURE, &config) == 0) {
      std::swap(held.fd, loop.fd);
      return {};
    }
    if (errno != EBUSY)
      return errno_text("cannot attach the workspace disk to " + device);
  }
  return "no loop device stayed free for the workspace disk";
}

// The disk image's ext4, mounted nowhere yet: it never appears in the
// host's mount table.
std::string mount_disk(const std::string& image, int& mount_fd) {
  std::string device;
  fd_guard held;
  if (auto err = attach_loop(image, device, held); !err.empty())
    return err;
  fd_guard context{::fsopen("ext4", FSOPEN_CLOEXEC)};
  if (context.fd < 0)
    return errno_text("fsopen ext4");
  // noinit_itable: no background thread zeroing inode tables the image
  // never needed zeroed (made lazily on a file whose holes read as zero).
  if (::fsconfig(context.fd, FSCONFIG_SET_STRING, "source", device.c_str(), 0)
        != 0
      || ::fsconfig(context.fd, FSCONFIG_SET_FLAG, "noinit_itable", nullptr, 0)
           != 0
      || ::fsconfig(context.fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0)
           != 0)
    return errno_text("cannot mount the workspace disk " + image);
  mount_fd = ::fsmount(context.fd, FSMOUNT_CLOEXEC, 0);
  if (mount_fd < 0)
    return errno_text("fsmount of the workspace disk");
  return {};
}

std::string take_tree(const fs::path& source, int userns_fd,
                      uint64_t more_flags, int& out) {
  out = ::open_tree(AT_FDCWD, source.c_str(),
                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (out < 0)
    return errno_text("cannot take " + source.string());
  if (userns_fd >= 0)
    return shift_ids(out, userns_fd, more_flags);
  return {};
}

} // namespace

std::string take_layers_idmapped(const launch_spec& spec, pid_t sandbox,
                                 int userns_fd, taken_layers& out) {
  auto ns = "/proc/" + std::to_string(sandbox) + "/ns/mnt";
  fd_guard mnt{::open(ns.c_str(), O_RDONLY | O_CLOEXEC)};
  if (mnt.fd < 0 || ::setns(mnt.fd, CLONE_NEWNS) != 0)
    return errno_text("cannot join the sandbox's mount namespace");
  if (auto err = take_tree(spec.lower, userns_fd, MOUNT_ATTR_RDONLY, out.lower);
      !err.empty())
    return err;
  if (spec.disk_image.empty())
    return take_tree(spec.layers, userns_fd, 0, out.layers);
  if (auto err = mount_disk(spec.disk_image.string(), out.layers);
      !err.empty())
    return err;
  return shift_ids(out.layers, userns_fd, 0);
}

std::string take_layers(const launch_spec& spec, taken_layers& out) {
  if (auto err = take_tree(spec.lower, -1, 0, out.lower); !err.empty())
    return err;
  return take_tree(spec.layers, -1, 0, out.layers);
}

std::string attach_layers(const taken_layers& taken) {
  fs::path staging = staging_dir;
  if (auto err = attach(taken.lower, staging / staged_lower); !err.empty())
    return err;
  return attach(taken.layers, staging / staged_layers);
}

bool disk_image_in_use(const std::string& image) {
  std::error_code ec;
  auto wanted = fs::canonical(image, ec);
  if (ec)
    return false;
  DIR* dir = ::opendir("/sys/block");
  if (dir == nullptr)
    return false;
  bool found = false;
  while (auto* entry = ::readdir(dir)) {
    if (std::strncmp(entry->d_name, "loop", 4) != 0)
      continue;
    std::ifstream in{std::string{"/sys/block/"} + entry->d_name
                     + "/loop/backing_file"};
    std::string path;
    if (std::getline(in, path) && path == wanted.string()) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

} // namespace pyro::vmm
