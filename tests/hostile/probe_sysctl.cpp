// sysctl: every mode-writable file under /proc/sys, written back unchanged.

#include "probe.hpp"

#include <algorithm>
#include <set>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

namespace pyro::hostile {

namespace {

constexpr const char* category = "sysctl";

struct sysctl_file {
  std::string name; // relative to /proc/sys
  mode_t mode;
};

// Stays on /proc/sys's own device: binfmt_misc below it is another file
// system whose files register interpreters, and an automount point there
// must not be triggered.
void collect(const std::string& dir, const std::string& rel, dev_t dev,
             int depth, std::vector<sysctl_file>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d)
    return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st,
                  AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)
          != 0
        || st.st_dev != dev)
      continue;
    auto child = rel.empty() ? name : rel + "/" + name;
    if (S_ISDIR(st.st_mode) && depth < 12)
      collect(dir + "/" + name, child, dev, depth + 1, out);
    else if (S_ISREG(st.st_mode) && (st.st_mode & 0222))
      out.push_back({child, st.st_mode});
  }
  ::closedir(d);
}

} // namespace

void probe_sysctl() {
  const std::string root = "/proc/sys";
  // Writing anything to these acts (a core handler, a cache drop), so they
  // are only opened for write.
  const std::set<std::string> open_only{"kernel/core_pattern",
                                        "vm/drop_caches"};
  for (const auto& name : open_only)
    report_open_for_write(category, name, root + "/" + name);
  // Not mainline: the build host's kernel adds these, and what a write
  // does there, even of the same value, is unknown.
  auto foreign = [](const std::string& name) {
    return name.rfind("kernel/init_private", 0) == 0;
  };
  report_write_back(category, "fs/file-max", root + "/fs/file-max");

  struct stat st;
  if (::stat(root.c_str(), &st) != 0)
    return report(category, "walk /proc/sys", true, errno_name(errno));
  std::vector<sysctl_file> files;
  collect(root, "", st.st_dev, 0, files);
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& f : files) {
    if (open_only.count(f.name) || f.name == "fs/file-max")
      continue;
    // Write-only files (vm/compact_memory, net/ipv4/route/flush) have no
    // value to restore: writing would act.
    if ((f.mode & 0444) == 0 || foreign(f.name))
      report_open_for_write(category, f.name, root + "/" + f.name);
    else
      report_write_back(category, f.name, root + "/" + f.name);
  }
}

} // namespace pyro::hostile
