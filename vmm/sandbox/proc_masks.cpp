#include "vmm/sandbox/proc_masks.hpp"

#include <cerrno>
#include <cstring>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

// Read-only: host-global settings and hardware interfaces.
constexpr const char* read_only[] = {
  "proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs",
};

// Hidden behind an empty read-only file or directory: kernel memory, other
// users' keys, timers and scheduler state that leak host activity,
// firmware and power interfaces.
constexpr const char* masked[] = {
  "proc/kcore",          "proc/keys",          "proc/key-users",
  "proc/latency_stats",  "proc/timer_list",    "proc/timer_stats",
  "proc/sched_debug",    "proc/kmsg",          "proc/acpi",
  "proc/asound",         "proc/scsi",          "proc/interrupts",
  "proc/kallsyms",       "proc/config.gz",     "proc/sysvipc",
  "sys/firmware",        "sys/kernel/debug",   "sys/kernel/security",
  "sys/kernel/tracing",  "sys/devices/virtual/powercap",
  "sys/fs/cgroup",
};

std::string fail(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A read-only remount keeps the flags the kernel locked on the mount.
unsigned long locked_flags(const fs::path& path) {
  struct statvfs st {};
  unsigned long kept = 0;
  if (::statvfs(path.c_str(), &st) != 0)
    return kept;
  if (st.f_flag & ST_NODEV)
    kept |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC)
    kept |= MS_NOEXEC;
  if (st.f_flag & ST_NOSUID)
    kept |= MS_NOSUID;
  return kept;
}

std::string make_read_only(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return {}; // not in this kernel
  if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr)
      != 0)
    return fail("bind " + path.string());
  if (::mount(nullptr, path.c_str(), nullptr,
              MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(path), nullptr)
      != 0)
    return fail("read-only " + path.string());
  return {};
}

std::string mask(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return {};
  if (S_ISDIR(st.st_mode)) {
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV
                                                  | MS_NOEXEC,
                "size=0,mode=0555")
        != 0)
      return fail("mask " + path.string());
    return {};
  }
  if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return fail("mask " + path.string());
  return {};
}

} // namespace

std::string mask_proc_and_sys(const fs::path& root) {
  for (const char* p : masked)
    if (auto err = mask(root / p); !err.empty())
      return err;
  for (const char* p : read_only)
    if (auto err = make_read_only(root / p); !err.empty())
      return err;
  return {};
}

} // namespace pyro::vmm
