#include "messages/wire/tar_unpack.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "messages/sys/unique_fd.hpp"
#include "messages/wire/relative_path.hpp"

namespace pyro::wire {

namespace {

using sys::unique_fd;

error refused(const std::string& name, const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "archive entry '" + name + "' refused: " + why,
                    "nothing was written");
}

error failed(const std::string& what, const std::string& name, int err) {
  if (err == ENOSPC || err == EDQUOT)
    return make_error(error_code::resource_exhausted,
                      "no space left writing " + name);
  return make_error(error_code::internal,
                    what + " " + name + ": " + std::strerror(err));
}

// Opens the first `count` components of `parts` below `root` as
// directories, creating missing ones, never through a symlink.
result<unique_fd> open_dirs(int root, const std::vector<std::string>& parts,
                            size_t count, const std::string& member) {
  unique_fd cur{::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (cur.get() < 0)
    return failed("cannot open the root for", member, errno);
  for (size_t i = 0; i < count; ++i) {
    if (::mkdirat(cur.get(), parts[i].c_str(), 0700) != 0 && errno != EEXIST)
      return failed("cannot create a directory for", member, errno);
    unique_fd next{::openat(cur.get(), parts[i].c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (next.get() < 0)
      return refused(member, "its path goes through a symlink or a "
                             "non-directory");
    cur = std::move(next);
  }
  return cur;
}

timespec times_of(int64_t mtime) {
  return {static_cast<time_t>(mtime), 0};
}

status write_all(int fd, const char* buf, size_t size,
                 const std::string& name) {
  while (size > 0) {
    auto n = ::write(fd, buf, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return failed("cannot write", name, errno);
    buf += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

struct directory_meta {
  std::vector<std::string> parts;
  uint32_t mode;
  int64_t mtime;
};

class unpacker {
public:
  unpacker(tar_reader& reader, int root, const unpack_options& options)
    : reader_(reader), root_(root), options_(options) {
    // nop
  }

  result<unpack_totals> run() {
    for (;;) {
      auto next = reader_.next();
      if (!next)
        return next.err();
      if (!*next)
        break;
      if (auto added = add(**next); !added)
        return added.err();
    }
    return finish();
  }

private:
  status add(const tar_member& m) {
    auto split = components(m.name);
    if (!split)
      return refused(m.name, "absolute paths and '..' are not allowed");
    auto& parts = *split;
    if (parts.empty())
      return {}; // "./" or a stripped top directory: the root itself
    auto clean = join_components(parts);
    if (parts.size() > options_.max_depth)
      return refused(clean.substr(0, 200) + "...",
                     "deeper than " + std::to_string(options_.max_depth)
                       + " directories");
    if (++totals_.entries > options_.max_entries)
      return make_error(error_code::resource_exhausted,
                        "the archive has more than "
                          + std::to_string(options_.max_entries) + " entries");
    if (m.type != '0' && m.type != '7' && m.type != '5' && m.type != '2'
        && m.type != '1' && m.type != '6' && m.type != socket_type)
      return refused(clean, "device nodes and other special members are "
                            "not allowed");
    auto parent = parent_of(parts, clean);
    if (!parent)
      return parent.err();
    int dir = *parent;
    const auto& leaf = parts.back();
    auto mode = m.mode & 07777 & options_.perm_mask;
    if (m.type == '5') {
      if (::mkdirat(dir, leaf.c_str(), 0700) != 0 && errno != EEXIST)
        return failed("cannot create", clean, errno);
      struct stat st {};
      if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0
          || !S_ISDIR(st.st_mode))
        return refused(clean, "a directory of that name is already a "
                              "different kind of entry");
      directories_.push_back({std::move(parts), mode, m.mtime});
    } else {
      // A later member of the same name replaces an earlier one, as tar
      // does; a directory stays and the create below reports it.
      ::unlinkat(dir, leaf.c_str(), 0);
      if (auto made = make_leaf(m, dir, leaf, clean, mode); !made)
        return made;
    }
    seen_.insert(clean);
    return {};
  }

  status make_leaf(const tar_member& m, int dir, const std::string& leaf,
                   const std::string& clean, uint32_t mode) {
    const auto time = times_of(m.mtime);
    const timespec times[2] = {time, time};
    if (m.type == '2') {
      if (::symlinkat(m.link.c_str(), dir, leaf.c_str()) != 0)
        return failed("cannot create", clean, errno);
      ::utimensat(dir, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    if (m.type == '1')
      return link(m, dir, leaf, clean);
    if (m.type == '6' || m.type == socket_type) {
      auto kind = m.type == '6' ? S_IFIFO : S_IFSOCK;
      if (::mknodat(dir, leaf.c_str(), kind | mode, 0) != 0)
        return failed("cannot create", clean, errno);
      ::fchmodat(dir, leaf.c_str(), mode, 0);
      ::utimensat(dir, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return {};
    }
    totals_.bytes += m.size;
    if (totals_.bytes > options_.max_bytes)
      return make_error(error_code::resource_exhausted,
                        "the archive holds more than "
                          + std::to_string(options_.max_bytes) + " bytes");
    unique_fd out{
      ::openat(dir, leaf.c_str(),
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (out.get() < 0)
      return failed("cannot create", clean, errno);
    for (;;) {
      auto n = reader_.read(buffer_.data(), buffer_.size());
      if (!n)
        return n.err();
      if (*n == 0)
        break;
      if (auto w = write_all(out.get(), buffer_.data(), *n, clean); !w)
        return w;
    }
    ::fchmod(out.get(), mode);
    ::futimens(out.get(), times);
    return {};
  }

  status link(const tar_member& m, int dir, const std::string& leaf,
              const std::string& clean) {
    auto target = components(m.link);
    if (!target || target->empty()
        || seen_.count(join_components(*target)) == 0)
      return refused(clean, "hard link to '" + m.link
                              + "', which is not an earlier entry");
    auto tdir = open_dirs(root_, *target, target->size() - 1, clean);
    if (!tdir)
      return tdir.err();
    if (::linkat(tdir->get(), target->back().c_str(), dir, leaf.c_str(), 0)
        != 0)
      return failed("cannot link", clean, errno);
    return {};
  }

  // The directory holding `parts`' last component. Members come in tree
  // order, so the last one's directory is kept: a file among thousands in
  // one directory costs no walk from the root. It stays valid, as nothing
  // here ever removes a directory (unlinkat without AT_REMOVEDIR).
  result<int> parent_of(const std::vector<std::string>& parts,
                        const std::string& member) {
    std::vector<std::string> dirs(parts.begin(), parts.end() - 1);
    if (cached_dir_.get() < 0 || dirs != cached_parts_) {
      auto opened = open_dirs(root_, parts, dirs.size(), member);
      if (!opened)
        return opened.err();
      cached_dir_ = std::move(*opened);
      cached_parts_ = std::move(dirs);
    }
    return cached_dir_.get();
  }

  // A member's components below the root, after stripping; nullopt for an
  // absolute name or '..'.
  std::optional<std::vector<std::string>> components(const std::string& name) {
    auto parts = name.empty() ? std::nullopt : split_relative(name);
    if (!parts)
      return std::nullopt;
    auto strip = std::min(options_.strip_components, parts->size());
    parts->erase(parts->begin(), parts->begin() + static_cast<long>(strip));
    return parts;
  }

  result<unpack_totals> finish() {
    std::stable_sort(directories_.begin(), directories_.end(),
                     [](const auto& a, const auto& b) {
                       return a.parts.size() > b.parts.size();
                     });
    for (const auto& d : directories_) {
      auto clean = join_components(d.parts);
      auto opened = open_dirs(root_, d.parts, d.parts.size(), clean);
      if (!opened)
        return opened.err();
      const auto time = times_of(d.mtime);
      const timespec times[2] = {time, time};
      ::fchmod(opened->get(), d.mode);
      ::futimens(opened->get(), times);
    }
    return totals_;
  }

  tar_reader& reader_;
  int root_;
  unpack_options options_;
  unpack_totals totals_;
  std::set<std::string> seen_;
  std::vector<directory_meta> directories_;
  std::vector<std::string> cached_parts_;
  unique_fd cached_dir_;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);
};

} // namespace

result<unpack_totals> unpack_tar(tar_reader& reader, int root_fd,
                                 const unpack_options& options) {
  return unpacker{reader, root_fd, options}.run();
}

} // namespace pyro::wire
