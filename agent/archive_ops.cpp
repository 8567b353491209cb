#include <cerrno>
#include <cstring>
#include <random>
#include <map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/confined_fs.hpp"
#include "agent/fs_walk.hpp"
#include "agent/ops.hpp"
#include "messages/sys/unique_fd.hpp"
#include "messages/wire/relative_path.hpp"
#include "messages/wire/tar.hpp"
#include "messages/wire/tar_unpack.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

constexpr uint64_t default_max_entries = 200000;
constexpr uint64_t default_max_bytes = uint64_t{8} << 30;

// Imports are staged beside /workspace under this prefix.
constexpr const char* staging_prefix = ".pyro-staging-";

// How many left-out special files an export header names (all are counted).
constexpr uint64_t max_skipped_named = 100;

using fd_guard = sys::unique_fd;

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

// FIFOs and sockets travel in archives; device nodes do not.
bool is_special(const walk_entry& e) {
  return S_ISFIFO(e.st_mode) || S_ISSOCK(e.st_mode);
}

// The name a file with more than one link was first seen under, or "" (and
// `e` is remembered) when this is the first: later names become hard links.
std::string first_name(std::map<std::pair<uint64_t, uint64_t>, std::string>& seen,
                       const walk_entry& e) {
  if (e.links < 2)
    return {};
  auto [it, fresh] = seen.try_emplace({e.device, e.inode}, e.path);
  return fresh ? std::string{} : it->second;
}

} // namespace

void remove_import_remains(int root_fd) {
  fd_guard root{::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  std::vector<std::string> stale;
  static_cast<void>(walk_tree(root.get(), "", false,
                              [&](const walk_entry&, int, const std::string& n) {
                                if (n.rfind(staging_prefix, 0) == 0)
                                  stale.push_back(n);
                                return status{};
                              }));
  for (const auto& name : stale)
    static_cast<void>(remove_tree(root_fd, name));
}

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
  auto staging_name = staging_prefix + std::to_string(rng());
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
  wire::unpack_options limits;
  limits.max_entries = max_entries;
  limits.max_bytes = max_bytes;
  limits.strip_components = req.value("strip_components", size_t{0});
  auto unpacked = wire::unpack_tar(reader, staging.get(), limits);
  if (!unpacked)
    return discard(unpacked.err());
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
    json{{"dest", guest_path(*dest)},
         {"entries", unpacked->entries},
         {"bytes", unpacked->bytes}});
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
  // Count first, so the reply header can say what follows. Device nodes
  // have no place on the host: they are left out, and the header names
  // them so the caller learns what is missing.
  uint64_t entries = 1;
  uint64_t bytes = root->type == "file" ? root->size : 0;
  uint64_t skipped_count = 0;
  json skipped = json::array();
  std::map<std::pair<uint64_t, uint64_t>, std::string> counted_links;
  if (dir.get() >= 0) {
    auto counted = walk_tree(
      dir.get(), root_name, true,
      [&](const walk_entry& e, int, const std::string&) {
        if (e.type == "other" && !is_special(e)) {
          if (++skipped_count <= max_skipped_named)
            skipped.push_back(e.path);
          return status{};
        }
        ++entries;
        if (e.type == "file" && first_name(counted_links, e).empty())
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
  std::map<std::pair<uint64_t, uint64_t>, std::string> written_links;
  auto add
    = [&](const walk_entry& e, int parent, const std::string& name) -> status {
    if (e.type == "directory")
      return tar.add_directory(e.path, e.mode, e.mtime);
    if (e.type == "symlink")
      return tar.add_symlink(e.path, e.link, e.mtime);
    if (e.type == "other") {
      if (!is_special(e))
        return {}; // a device node: named in the header, left out
      auto kind = S_ISFIFO(e.st_mode) ? '6' : wire::socket_type;
      return tar.add_special(e.path, kind, e.mode, e.mtime);
    }
    if (auto first = first_name(written_links, e); !first.empty())
      return tar.add_hardlink(e.path, first, e.mtime);
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
