#include "agent/fs_walk.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/confined_fs.hpp"

namespace pyro::agent {

namespace {

std::string join(const std::string& base, const std::string& name) {
  return base.empty() ? name : base + "/" + name;
}

result<std::vector<std::string>> names_in(int dir_fd) {
  int copy = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0)
    return path_error("cannot open directory", ".", errno);
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    ::close(copy);
    return path_error("cannot list", ".", errno);
  }
  std::vector<std::string> names;
  while (auto* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..")
      names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace

result<walk_entry> stat_entry(int dir_fd, const std::string& name,
                              const std::string& path) {
  struct stat st {};
  int flags = AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0);
  if (::fstatat(dir_fd, name.c_str(), &st, flags) != 0)
    return path_error("cannot stat", path, errno);
  walk_entry e;
  e.path = path;
  e.mode = st.st_mode & 07777;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime = static_cast<int64_t>(st.st_mtime);
  e.st_mode = st.st_mode;
  e.device = static_cast<uint64_t>(st.st_dev);
  e.inode = static_cast<uint64_t>(st.st_ino);
  e.links = static_cast<uint64_t>(st.st_nlink);
  if (S_ISREG(st.st_mode)) {
    e.type = "file";
  } else if (S_ISDIR(st.st_mode)) {
    e.type = "directory";
  } else if (S_ISLNK(st.st_mode)) {
    e.type = "symlink";
    char buf[4096];
    auto n = ::readlinkat(dir_fd, name.c_str(), buf, sizeof(buf));
    if (n >= 0)
      e.link.assign(buf, static_cast<size_t>(n));
  } else {
    e.type = "other";
  }
  return e;
}

status walk_tree(int dir_fd, const std::string& base, bool recursive,
                 const walk_fn& visit) {
  auto names = names_in(dir_fd);
  if (!names)
    return names.err();
  for (const auto& name : *names) {
    auto e = stat_entry(dir_fd, name, join(base, name));
    if (!e) {
      if (e.err().code == error_code::not_found)
        continue; // removed while we walked
      return e.err();
    }
    if (auto v = visit(*e, dir_fd, name); !v)
      return v;
    if (recursive && e->type == "directory") {
      int sub = ::openat(dir_fd, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        return path_error("cannot open", e->path, errno);
      auto walked = walk_tree(sub, e->path, true, visit);
      ::close(sub);
      if (!walked)
        return walked;
    }
  }
  return {};
}

status remove_tree(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? status{}
                           : path_error("cannot remove", name, errno);
  if (S_ISDIR(st.st_mode)) {
    int sub = ::openat(dir_fd, name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
      return path_error("cannot open", name, errno);
    auto names = names_in(sub);
    if (names)
      for (const auto& child : *names)
        if (auto r = remove_tree(sub, child); !r) {
          ::close(sub);
          return r;
        }
    ::close(sub);
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0)
      return path_error("cannot remove", name, errno);
    return {};
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0)
    return path_error("cannot remove", name, errno);
  return {};
}

} // namespace pyro::agent
