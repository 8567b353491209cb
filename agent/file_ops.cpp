#include <cerrno>
#include <cstring>
#include <random>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "agent/confined_fs.hpp"
#include "agent/fs_walk.hpp"
#include "messages/wire/byte_names.hpp"
#include "agent/ops.hpp"
#include "messages/sys/unique_fd.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

using fd_guard = sys::unique_fd;

result<std::vector<std::string>> path_of(const json& req) {
  auto path = string_field(req, "path");
  if (!path)
    return path.err();
  return workspace_components(*path);
}

json entry_json(const walk_entry& e) {
  json j{{"type", e.type}, {"mode", e.mode}, {"size", e.size}};
  wire::put_bytes(j, "path", e.path);
  if (e.type == "symlink")
    wire::put_bytes(j, "link_target", e.link);
  else
    j["link_target"] = nullptr;
  return j;
}

std::string hex64(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<size_t>(i)] = digits[v & 0xF];
  return out;
}

result<std::string> hash_file(int dir_fd, const std::string& name) {
  fd_guard fd{
    ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
  if (fd.get() < 0)
    return path_error("cannot open", name, errno);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  char buf[1 << 16];
  for (;;) {
    auto n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      XXH3_freeState(st);
      return path_error("cannot read", name, errno);
    }
    if (n == 0)
      break;
    XXH3_64bits_update(st, buf, static_cast<size_t>(n));
  }
  auto digest = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return hex64(digest);
}

} // namespace

status op_stat(const agent_context& ctx, const json& req, connection& conn) {
  auto parts = path_of(req);
  if (!parts)
    return parts.err();
  auto fd = open_beneath(ctx, ctx.workspace_fd, *parts, O_PATH | O_NOFOLLOW);
  if (!fd)
    return fd.err();
  fd_guard guard{*fd};
  auto e = stat_entry(guard.get(), "", guest_path(*parts));
  if (!e)
    return e.err();
  return conn.reply(entry_json(*e));
}

status op_list(const agent_context& ctx, const json& req, connection& conn) {
  auto parts = path_of(req);
  if (!parts)
    return parts.err();
  auto dir
    = open_beneath(ctx, ctx.workspace_fd, *parts, O_RDONLY | O_DIRECTORY);
  if (!dir)
    return dir.err();
  json entries = json::array();
  auto walked
    = walk_tree(*dir, guest_path(*parts), req.value("recursive", false),
                [&](const walk_entry& e, int, const std::string&) {
                  entries.push_back(entry_json(e));
                  return status{};
                });
  if (!walked)
    return walked;
  return conn.reply(json{{"entries", std::move(entries)}});
}

status op_read(const agent_context& ctx, const json& req, connection& conn) {
  auto parts = path_of(req);
  if (!parts)
    return parts.err();
  auto max = req.value("max_bytes", uint64_t{65536});
  auto fd = open_beneath(ctx, ctx.workspace_fd, *parts, O_RDONLY | O_NOFOLLOW);
  if (!fd)
    return fd.err();
  fd_guard guard{*fd};
  struct stat st {};
  if (::fstat(guard.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return make_error(error_code::failed_precondition,
                      guest_path(*parts) + " is not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  bool truncated = size > max;
  if (auto s
      = conn.begin_stream(json{{"size", size}, {"truncated", truncated}});
      !s)
    return s;
  uint64_t left = std::min(size, max);
  char buf[1 << 16];
  while (left > 0) {
    auto n = ::read(guard.get(), buf,
                    static_cast<size_t>(std::min<uint64_t>(left, sizeof(buf))));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // the file shrank; send what there was
    if (auto s = conn.send({buf, static_cast<size_t>(n)}); !s)
      return s;
    left -= static_cast<uint64_t>(n);
  }
  return conn.end_stream();
}

status op_write(const agent_context& ctx, const json& req, connection& conn) {
  auto parts = path_of(req);
  if (!parts)
    return parts.err();
  auto parent = open_parent(ctx, *parts, true);
  if (!parent)
    return parent.err();
  fd_guard dir{*parent};
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto tmp = "." + parts->back() + ".pyro-tmp-" + std::to_string(rng());
  auto mode = req.value("mode", 0644u) & 07777;
  fd_guard fd{::openat(dir.get(), tmp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       mode)};
  if (fd.get() < 0)
    return path_error("cannot create", guest_path(*parts), errno);
  auto fail = [&](error err) -> status {
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    static_cast<void>(conn.drain_upload());
    return err;
  };
  uint64_t written = 0;
  for (;;) {
    auto chunk = conn.next_upload_chunk();
    if (!chunk)
      return fail(chunk.err());
    if (chunk->empty())
      break;
    const char* p = chunk->data();
    size_t left = chunk->size();
    while (left > 0) {
      auto n = ::write(fd.get(), p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return fail(path_error("cannot write", guest_path(*parts), errno));
      p += n;
      left -= static_cast<size_t>(n);
      written += static_cast<uint64_t>(n);
    }
  }
  ::fchmod(fd.get(), mode);
  if (::fsync(fd.get()) != 0)
    return fail(path_error("cannot sync", guest_path(*parts), errno));
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), parts->back().c_str()) != 0)
    return fail(path_error("cannot replace", guest_path(*parts), errno));
  return conn.reply(json{{"path", guest_path(*parts)}, {"bytes", written}});
}

status op_delete(const agent_context& ctx, const json& req, connection& conn) {
  auto parts = path_of(req);
  if (!parts)
    return parts.err();
  auto parent = open_parent(ctx, *parts, false);
  if (!parent)
    return parent.err();
  fd_guard dir{*parent};
  const auto& name = parts->back();
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return path_error("cannot delete", guest_path(*parts), errno);
  if (S_ISDIR(st.st_mode)) {
    if (!req.value("recursive", false))
      if (::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR) != 0)
        return path_error("cannot delete", guest_path(*parts), errno);
    if (req.value("recursive", false))
      if (auto removed = remove_tree(dir.get(), name); !removed)
        return removed;
  } else if (::unlinkat(dir.get(), name.c_str(), 0) != 0) {
    return path_error("cannot delete", guest_path(*parts), errno);
  }
  return conn.reply(json{{"path", guest_path(*parts)}, {"deleted", true}});
}

status op_manifest(const agent_context& ctx, const json&, connection& conn) {
  fd_guard root{
    ::openat(ctx.workspace_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (root.get() < 0)
    return path_error("cannot open", "/workspace", errno);
  // Streamed: a large tree's manifest is larger than a header frame.
  json entries = json::array();
  auto walked = walk_tree(
    root.get(), "", true,
    [&](const walk_entry& e, int dir_fd, const std::string& name) -> status {
      auto j = entry_json(e);
      if (e.type == "file") {
        auto h = hash_file(dir_fd, name);
        if (!h)
          return h.err();
        j["hash"] = *h;
      }
      entries.push_back(std::move(j));
      return {};
    });
  if (!walked)
    return walked;
  if (auto s = conn.begin_stream(json{{"count", entries.size()}}); !s)
    return s;
  if (auto s = conn.send(json{{"entries", std::move(entries)}}.dump(
        -1, ' ', false, json::error_handler_t::replace));
      !s)
    return s;
  return conn.end_stream();
}

} // namespace pyro::agent
