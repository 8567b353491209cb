#include "agent/confined_fs.hpp"

#include "messages/wire/relative_path.hpp"

#include <cerrno>
#include <cstring>

#include <climits>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pyro::agent {

namespace {

int openat2_beneath(int dir_fd, const std::string& rel, int flags,
                    unsigned mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(
    ::syscall(SYS_openat2, dir_fd, rel.c_str(), &how, sizeof(how)));
}

// The fallback: component by component, never following a symlink.
int walk_beneath(int dir_fd, const std::vector<std::string>& parts, int flags,
                 unsigned mode) {
  if (parts.empty())
    return ::openat(dir_fd, ".", flags | O_CLOEXEC);
  int cur = ::openat(dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return -1;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(cur, parts[i].c_str(),
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    ::close(cur);
    if (next < 0) {
      errno = err == ENOTDIR ? EXDEV : err; // a symlink on the way
      return -1;
    }
    cur = next;
  }
  int fd
    = ::openat(cur, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  int err = errno;
  ::close(cur);
  errno = err;
  return fd;
}

} // namespace

result<std::vector<std::string>> workspace_components(const std::string& p) {
  return wire::workspace_components(p);
}

std::string guest_path(const std::vector<std::string>& parts) {
  std::string out = "/workspace";
  for (const auto& p : parts)
    out += "/" + p;
  return out;
}

error path_error(const std::string& what, const std::string& path, int err) {
  if (err == ENOENT)
    return make_error(error_code::not_found, path + " does not exist");
  if (err == EXDEV || err == ELOOP)
    return make_error(error_code::invalid_argument,
                      path
                        + " resolves outside /workspace through a "
                          "symlink",
                      "symlinks may not lead out of /workspace");
  if (err == EEXIST)
    return make_error(error_code::already_exists, path + " already exists");
  if (err == ENOTDIR)
    return make_error(error_code::failed_precondition,
                      "a component of " + path + " is not a directory");
  if (err == EISDIR)
    return make_error(error_code::failed_precondition,
                      path + " is a directory");
  if (err == ENOSPC || err == EDQUOT)
    return make_error(error_code::resource_exhausted,
                      "no space left writing " + path);
  return make_error(error_code::internal,
                    what + " " + path + ": " + std::strerror(err));
}

result<int> open_beneath(const agent_context& ctx, int dir_fd,
                         const std::vector<std::string>& parts, int flags,
                         unsigned mode) {
  int fd = -1;
  if (!ctx.no_openat2) {
    std::string rel = ".";
    for (const auto& p : parts)
      rel += "/" + p;
    // A path longer than PATH_MAX is still a valid tree (each component
    // fits): it is walked component by component instead.
    fd = rel.size() < PATH_MAX ? openat2_beneath(dir_fd, rel, flags, mode)
                               : (errno = ENAMETOOLONG, -1);
    if (fd < 0 && (errno == ENOSYS || errno == ENAMETOOLONG))
      fd = walk_beneath(dir_fd, parts, flags, mode);
  } else {
    fd = walk_beneath(dir_fd, parts, flags, mode);
  }
  if (fd < 0)
    return path_error("cannot open", guest_path(parts), errno);
  return fd;
}

result<int> open_parent(const agent_context& ctx,
                        const std::vector<std::string>& parts,
                        bool create_parents) {
  if (parts.empty())
    return make_error(error_code::invalid_argument,
                      "/workspace itself cannot be replaced");
  std::vector<std::string> dirs(parts.begin(), parts.end() - 1);
  if (create_parents) {
    for (size_t i = 1; i <= dirs.size(); ++i) {
      std::vector<std::string> prefix(dirs.begin(),
                                      dirs.begin() + static_cast<long>(i));
      std::vector<std::string> above(prefix.begin(), prefix.end() - 1);
      auto parent
        = open_beneath(ctx, ctx.workspace_fd, above, O_PATH | O_DIRECTORY);
      if (!parent)
        return parent.err();
      int rc = ::mkdirat(*parent, prefix.back().c_str(), 0755);
      int err = errno;
      ::close(*parent);
      if (rc != 0 && err != EEXIST)
        return path_error("cannot create", guest_path(prefix), err);
    }
  }
  return open_beneath(ctx, ctx.workspace_fd, dirs, O_PATH | O_DIRECTORY);
}

} // namespace pyro::agent
