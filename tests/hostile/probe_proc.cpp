// proc: the kernel's host-wide files under /proc and /sys.

#include "probe.hpp"

#include <cctype>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace pyro::hostile {

namespace {

constexpr const char* category = "proc";

// Reachable when anything comes back: a masked file (bound over by
// /dev/null) reads empty. The first line goes into the detail so that a
// reader can tell the host's data from the sandbox's own.
void read_head(const std::string& path) {
  auto name = "read " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return report(category, name, true, errno_name(errno));
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  int err = errno;
  ::close(fd);
  if (n < 0)
    return report(category, name, true, "read: " + errno_name(err));
  if (n == 0)
    return report(category, name, true, "empty");
  std::string head;
  for (ssize_t i = 0; i < n && buf[i] != '\n' && head.size() < 80; ++i)
    head += std::isprint(static_cast<unsigned char>(buf[i])) ? buf[i] : '.';
  report(category, name, false,
         "read " + std::to_string(n) + " bytes, first line: " + head);
}

// Calls `visit` on regular files under `dir`, depth-first, until it returns
// false or `budget` entries were seen (efivars and ACPI trees are large).
template <class Visit>
bool walk_files(const std::string& dir, int depth, int& budget, Visit visit) {
  DIR* d = ::opendir(dir.c_str());
  if (!d)
    return true;
  bool go_on = true;
  while (go_on && budget-- > 0) {
    dirent* e = ::readdir(d);
    if (!e)
      break;
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    auto path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode) && depth > 0)
      go_on = walk_files(path, depth - 1, budget, visit);
    else if (S_ISREG(st.st_mode))
      go_on = visit(path, st);
  }
  ::closedir(d);
  return go_on;
}

void firmware_readable() {
  const std::string name = "read /sys/firmware";
  int readable = 0;
  std::string example;
  int budget = 3000;
  walk_files("/sys/firmware", 5, budget,
             [&](const std::string& path, const struct stat&) {
               int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
               if (fd < 0)
                 return true;
               char c;
               if (::read(fd, &c, 1) == 1 && readable++ == 0)
                 example = path;
               ::close(fd);
               return true;
             });
  if (readable == 0)
    report(category, name, true, "no file readable");
  else
    report(category, name, false,
           std::to_string(readable) + " files readable, e.g. " + example);
}

void directory_listed(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d)
    return report(category, "list " + path, true, errno_name(errno));
  int entries = 0;
  while (dirent* e = ::readdir(d))
    if (std::string{e->d_name} != "." && std::string{e->d_name} != "..")
      ++entries;
  ::closedir(d);
  report(category, "list " + path, entries == 0,
         entries == 0 ? "empty" : std::to_string(entries) + " entries");
}

void bus_writable() {
  std::string found;
  int budget = 2000;
  walk_files("/proc/bus", 3, budget,
             [&](const std::string& path, const struct stat& st) {
               if ((st.st_mode & 0222) == 0)
                 return true;
               found = path;
               return false;
             });
  if (found.empty())
    return report(category, "write /proc/bus", true,
                  "no mode-writable file under /proc/bus");
  // PCI config space: a write would reconfigure a device.
  report_open_for_write(category, "write /proc/bus (" + found + ")", found);
}

} // namespace

void probe_proc() {
  // Never written: one byte would crash or reboot the host.
  report_open_for_write(category, "write /proc/sysrq-trigger",
                        "/proc/sysrq-trigger");
  read_head("/proc/kcore");
  read_head("/proc/keys");
  read_head("/proc/timer_list");
  read_head("/proc/sched_debug");
  // Opened only: reading consumes the kernel log the host's reader expects.
  // A mask shows as /dev/null (char 1:3), which opens and holds nothing.
  int fd = ::open("/proc/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st {};
  bool masked = fd >= 0 && ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)
                && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
  if (masked)
    report(category, "open /proc/kmsg", true, "masked by /dev/null");
  else
    report_call(category, "open /proc/kmsg", returned(fd), "opened");
  if (fd >= 0)
    ::close(fd);
  report_write_back(category, "write /proc/irq/default_smp_affinity",
                    "/proc/irq/default_smp_affinity");
  bus_writable();
  firmware_readable();
  directory_listed("/sys/kernel/debug");
  directory_listed("/sys/kernel/security");
}

} // namespace pyro::hostile
