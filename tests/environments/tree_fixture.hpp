#pragma once

// A busybox-shaped rootfs and a comparable summary of a tree.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <sys/stat.h>

#include "vmm/environments/sha256.hpp"

namespace pyro::test {

namespace fs = std::filesystem;

// Shows the error's message when a result that should hold a value fails.
template <class R> inline std::string why(const R& r) {
  return r ? std::string{} : r.err().message + " / " + r.err().hint;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

// A busybox-shaped rootfs: the binary, applet links, the agent, and dirs
// with unusual modes so the comparison means something.
inline void make_rootfs(const fs::path& root) {
  for (const char* d : {"bin", "usr/lib/pyro", "workspace", "tmp", "etc",
                        "run", "proc", "sys", "dev", "root"})
    fs::create_directories(root / d);
  fs::copy_file("/bin/busybox", root / "bin/busybox");
  for (const char* applet : {"sh", "ls", "cat", "echo", "sleep", "stty"})
    fs::create_symlink("busybox", root / "bin" / applet);
  const char* agent = std::getenv("PYRO_AGENT_BINARY");
  fs::copy_file(agent ? agent : "/bin/busybox",
                root / "usr/lib/pyro/pyro-agent");
  ::chmod((root / "usr/lib/pyro/pyro-agent").c_str(), 0755);
  ::chmod((root / "tmp").c_str(), 01777);
  ::chmod((root / "root").c_str(), 0700);
  std::ofstream{root / "etc/passwd"} << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream{root / "etc/hostname"} << "pyro\n";
  fs::create_symlink("/proc/self/mounts", root / "etc/mtab");
}

// path -> type, mode, link target or content hash
inline std::map<std::string, std::string> tree(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root);
       it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    std::string v = std::to_string(st.st_mode);
    if (S_ISLNK(st.st_mode))
      v += " -> " + fs::read_symlink(it->path()).string();
    else if (S_ISREG(st.st_mode))
      v += " " + vmm::sha256_of(slurp(it->path()));
    out[it->path().lexically_relative(root).string()] = v;
  }
  return out;
}


} // namespace pyro::test
