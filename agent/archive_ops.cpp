#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/confined_fs.hpp"
#include "agent/fs_walk.hpp"
#include "agent/ops.hpp"
#include "messages/sys/unique_fd.hpp"
#include "messages/wire/relative_path.hpp"
#include "messages/wire/tar.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

constexpr uint64_t default_max_entries = 200000;
constexpr uint64_t default_max_bytes = uint64_t{8} << 30;

// How many left-out special files an export header names (all are counted).
constexpr uint64_t max_skipped_named = 100;

using fd_guard = sys::unique_fd;

error refused(const std::string& name, const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "archive entry '" + name + "' refused: " + why,
                    "nothing was imported");
}

// Member name -> components; false on absolute names, '..' or nothing.
bool split_member(const std::string& name, std::vector<std::string>& out) {
  if (name.empty())
    return false;
  auto parts = wire::split_relative(name);
  if (!parts || parts->empty())
    return false;
  out = std::move(*parts);
  return true;
}

// Opens (creating) the directories of `parts` below `base`, never through a
// symlink: the staging tree holds only what this archive put there.
result<int> make_dirs(int base, const std::vector<std::string>& parts,
                      size_t count, const std::string& member) {
  int cur = ::openat(base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (size_t i = 0; i < count; ++i) {
    ::mkdirat(cur, parts[i].c_str(), 0755);
    int next = ::openat(cur, parts[i].c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(cur);
    if (next < 0)
      return refused(member, "its path goes through a non-directory or a "
                             "symlink");
    cur = next;
  }
  return cur;
}

// Moves everything in `from` into `to`, merging directories and replacing
// everything else.
status merge_into(int from, int to) {
  int copy = ::openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::vector<std::string> names;
  std::vector<walk_entry> kinds;
  auto listed = walk_tree(copy, "", false,
                          [&](const walk_entry& e, int, const std::string& n) {
                            names.push_back(n);
                            kinds.push_back(e);
                            return status{};
                          });
  ::close(copy);
  if (!listed)
    return listed;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& name = names[i];
    struct stat st {};
    bool exists = ::fstatat(to, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(st.st_mode) && kinds[i].type == "directory") {
      fd_guard src{::openat(from, name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      fd_guard dst{::openat(to, name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (src.get() < 0 || dst.get() < 0)
        return path_error("cannot merge", name, errno);
      if (auto merged = merge_into(src.get(), dst.get()); !merged)
        return merged;
      ::fchmodat(to, name.c_str(), kinds[i].mode, 0);
      continue;
    }
    if (exists)
      if (auto removed = remove_tree(to, name); !removed)
        return removed;
    if (::renameat(from, name.c_str(), to, name.c_str()) != 0)
      return path_error("cannot move", name, errno);
  }
  return {};
}

} // namespace

status op_import(const agent_context& ctx, const json& req, connection& conn) {
  auto fail = [&](error err) -> status {
    static_cast<void>(conn.drain_upload());
    return err;
  };
  auto dest = workspace_components(req.value("dest", "/workspace"));
  if (!dest)
    return fail(dest.err());
  auto max_entries = req.value("max_entries", default_max_entries);
  auto max_bytes = req.value("max_bytes", default_max_bytes);

  // Stage beside /workspace (same file system, never in a manifest).
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto staging_name = ".pyro-staging-" + std::to_string(rng());
  if (::mkdirat(ctx.root_fd, staging_name.c_str(), 0700) != 0)
    return fail(path_error("cannot stage", staging_name, errno));
  fd_guard staging{::openat(ctx.root_fd, staging_name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  auto discard = [&](error err) -> status {
    static_cast<void>(conn.drain_upload());
    static_cast<void>(remove_tree(ctx.root_fd, staging_name));
    return err;
  };

  std::string pending;
  size_t pending_pos = 0;
  wire::tar_reader reader{[&](char* buf, size_t size) -> result<size_t> {
    if (pending_pos == pending.size()) {
      auto chunk = conn.next_upload_chunk();
      if (!chunk)
        return chunk.err();
      pending = std::move(*chunk);
      pending_pos = 0;
      if (pending.empty())
        return size_t{0};
    }
    auto n = std::min(size, pending.size() - pending_pos);
    std::memcpy(buf, pending.data() + pending_pos, n);
    pending_pos += n;
    return n;
  }};
  std::set<std::string> seen;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  char buf[1 << 16];
  for (;;) {
    auto next = reader.next();
    if (!next)
      return discard(next.err());
    if (!*next)
      break;
    const auto& m = **next;
    std::vector<std::string> parts;
    if (!split_member(m.name, parts))
      return discard(refused(m.name, "absolute paths and '..' are not "
                                     "allowed"));
    std::string clean;
    for (const auto& p : parts)
      clean += (clean.empty() ? "" : "/") + p;
    if (++entries > max_entries)
      return discard(make_error(error_code::resource_exhausted,
                                "the archive has more than "
                                  + std::to_string(max_entries) + " entries"));
    if (m.type != '0' && m.type != '7' && m.type != '5' && m.type != '2'
        && m.type != '1')
      return discard(refused(clean, "device nodes, FIFOs and other special "
                                    "files are not allowed"));
    auto parent = make_dirs(staging.get(), parts, parts.size() - 1, clean);
    if (!parent)
      return discard(parent.err());
    fd_guard dir{*parent};
    const auto& leaf = parts.back();
    auto mode = m.mode & 07777;
    if (m.type == '5') {
      if (::mkdirat(dir.get(), leaf.c_str(), 0755) != 0 && errno != EEXIST)
        return discard(path_error("cannot create", clean, errno));
      ::fchmodat(dir.get(), leaf.c_str(), mode | 0700, 0);
    } else if (m.type == '2') {
      if (!wire::link_stays_inside(parts, m.link))
        return discard(refused(clean, "symlink target '" + m.link
                                        + "' points outside the archive"));
      ::unlinkat(dir.get(), leaf.c_str(), 0);
      if (::symlinkat(m.link.c_str(), dir.get(), leaf.c_str()) != 0)
        return discard(path_error("cannot create", clean, errno));
    } else if (m.type == '1') {
      std::vector<std::string> target;
      if (!split_member(m.link, target))
        return discard(refused(clean, "hard link target '" + m.link
                                        + "' is outside the archive"));
      std::string target_clean;
      for (const auto& p : target)
        target_clean += (target_clean.empty() ? "" : "/") + p;
      if (seen.count(target_clean) == 0)
        return discard(refused(clean, "hard link to '" + m.link
                                        + "', which is not an earlier "
                                          "entry"));
      auto tparent = make_dirs(staging.get(), target, target.size() - 1, clean);
      if (!tparent)
        return discard(tparent.err());
      fd_guard tdir{*tparent};
      ::unlinkat(dir.get(), leaf.c_str(), 0);
      if (::linkat(tdir.get(), target.back().c_str(), dir.get(), leaf.c_str(),
                   0)
          != 0)
        return discard(path_error("cannot link", clean, errno));
    } else {
      bytes += m.size;
      if (bytes > max_bytes)
        return discard(make_error(error_code::resource_exhausted,
                                  "the archive holds more than "
                                    + std::to_string(max_bytes) + " bytes"));
      ::unlinkat(dir.get(), leaf.c_str(), 0);
      fd_guard out{
        ::openat(dir.get(), leaf.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)};
      if (out.get() < 0)
        return discard(path_error("cannot create", clean, errno));
      for (;;) {
        auto n = reader.read(buf, sizeof(buf));
        if (!n)
          return discard(n.err());
        if (*n == 0)
          break;
        size_t done = 0;
        while (done < *n) {
          auto w = ::write(out.get(), buf + done, *n - done);
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return discard(path_error("cannot write", clean, errno));
          done += static_cast<size_t>(w);
        }
      }
      ::fchmod(out.get(), mode);
    }
    seen.insert(clean);
  }
  if (auto drained = conn.drain_upload(); !drained)
    return discard(drained.err());
  // Everything checked and staged: only now does the destination change.
  auto target = open_parent(ctx, *dest, true);
  fd_guard target_parent{target ? *target : -1};
  if (!dest->empty() && target) {
    ::mkdirat(target_parent.get(), dest->back().c_str(), 0755);
  }
  auto dest_fd
    = open_beneath(ctx, ctx.workspace_fd, *dest, O_RDONLY | O_DIRECTORY);
  if (!dest_fd) {
    static_cast<void>(remove_tree(ctx.root_fd, staging_name));
    return dest_fd.err();
  }
  fd_guard dest_dir{*dest_fd};
  auto merged = merge_into(staging.get(), dest_dir.get());
  static_cast<void>(remove_tree(ctx.root_fd, staging_name));
  if (!merged)
    return merged;
  return conn.reply(
    json{{"dest", guest_path(*dest)}, {"entries", entries}, {"bytes", bytes}});
}

status op_export(const agent_context& ctx, const json& req, connection& conn) {
  auto path = string_field(req, "path");
  if (!path)
    return path.err();
  auto parts = workspace_components(*path);
  if (!parts)
    return parts.err();
  auto top = open_beneath(ctx, ctx.workspace_fd, *parts, O_PATH | O_NOFOLLOW);
  if (!top)
    return top.err();
  fd_guard top_fd{*top};
  auto root_name = parts->empty() ? std::string{"workspace"} : parts->back();
  auto root = stat_entry(top_fd.get(), "", root_name);
  if (!root)
    return root.err();
  if (root->type == "other")
    return make_error(error_code::failed_precondition,
                      *path + " is not a file, directory or symlink");
  fd_guard dir{root->type == "directory" ? ::openat(
                 top_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                         : -1};
  // Count first, so the reply header can say what follows. FIFOs, sockets
  // and device nodes have no place on the host: they are left out, and the
  // header names them so the caller learns what is missing.
  uint64_t entries = 1;
  uint64_t bytes = root->type == "file" ? root->size : 0;
  uint64_t skipped_count = 0;
  json skipped = json::array();
  if (dir.get() >= 0) {
    auto counted = walk_tree(dir.get(), root_name, true,
                             [&](const walk_entry& e, int, const std::string&) {
                               if (e.type != "other")
                                 ++entries;
                               else if (++skipped_count <= max_skipped_named)
                                 skipped.push_back(e.path);
                               if (e.type == "file")
                                 bytes += e.size;
                               return status{};
                             });
    if (!counted)
      return counted;
  }
  if (auto s = conn.begin_stream(json{{"artifact_type", root->type},
                                      {"entry_count", entries},
                                      {"bytes", bytes},
                                      {"skipped_count", skipped_count},
                                      {"skipped", std::move(skipped)}});
      !s)
    return s;
  wire::tar_writer tar{[&](std::string_view b) {
    return conn.send(b);
  }};
  char buf[1 << 16];
  auto stream_file = [&](int fd, const walk_entry& e) -> status {
    if (auto s = tar.begin_file(e.path, e.mode, e.size, e.mtime); !s)
      return s;
    uint64_t left = e.size;
    while (left > 0) {
      auto n = ::read(
        fd, buf, static_cast<size_t>(std::min<uint64_t>(left, sizeof(buf))));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return make_error(error_code::failed_precondition,
                          e.path + " shrank while it was exported",
                          "retry when nothing is writing to it");
      if (auto s = tar.write({buf, static_cast<size_t>(n)}); !s)
        return s;
      left -= static_cast<uint64_t>(n);
    }
    return {};
  };
  auto add
    = [&](const walk_entry& e, int parent, const std::string& name) -> status {
    if (e.type == "directory")
      return tar.add_directory(e.path, e.mode, e.mtime);
    if (e.type == "symlink")
      return tar.add_symlink(e.path, e.link, e.mtime);
    if (e.type != "file")
      return {}; // sockets and FIFOs have no portable form; skipped
    fd_guard f{
      ::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    if (f.get() < 0)
      return path_error("cannot open", e.path, errno);
    return stream_file(f.get(), e);
  };
  status written;
  if (root->type == "file") {
    auto file
      = open_beneath(ctx, ctx.workspace_fd, *parts, O_RDONLY | O_NOFOLLOW);
    if (!file)
      return file.err();
    fd_guard owner{*file};
    written = stream_file(owner.get(), *root);
  } else if (root->type == "symlink") {
    written = tar.add_symlink(root->path, root->link, root->mtime);
  } else {
    written = tar.add_directory(root_name, root->mode, root->mtime);
    if (written)
      written = walk_tree(dir.get(), root_name, true, add);
  }
  if (!written)
    return written;
  if (auto s = tar.finish(); !s)
    return s;
  return conn.end_stream();
}

} // namespace pyro::agent
