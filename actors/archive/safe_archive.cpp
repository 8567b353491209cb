#include "actors/archive/safe_archive.hpp"

#include "messages/sys/unique_fd.hpp"
#include "messages/wire/relative_path.hpp"
#include "messages/wire/tar.hpp"

#include <memory>
#include <set>
#include <vector>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pyro {

namespace fs = std::filesystem;

namespace {

using reader_ptr = std::unique_ptr<archive, decltype(&archive_read_free)>;
using writer_ptr = std::unique_ptr<archive, decltype(&archive_write_free)>;

// Splits on '/', dropping empty and "." components; false on "..".
bool normalise(const std::string& name, std::vector<std::string>& parts) {
  auto split = wire::split_relative(name);
  if (!split)
    return false;
  parts = std::move(*split);
  return true;
}

std::string join(const std::vector<std::string>& parts) {
  return wire::join_components(parts);
}

error refused(const std::string& entry, const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "archive entry '" + entry + "' refused: " + why,
                    "remove or fix that entry; nothing was imported");
}

// The permission bits a file from a sandbox keeps on the host. Setuid and
// setgid would hand whoever runs the file the rights of its owner (root,
// when the export ran as root); sticky has no use on files a user owns and
// is dropped with them. Group and other write are dropped as a umask of 022
// would: a workload must not make a host file others can change.
constexpr uint32_t host_perm_mask = 0755;

error archive_failure(archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return make_error(error_code::invalid_argument,
                    what + ": " + (msg ? msg : "unknown libarchive error"));
}

} // namespace

bool safe_member_name(const std::string& name) {
  if (name.empty() || name.front() == '/')
    return false;
  std::vector<std::string> parts;
  return normalise(name, parts) && !parts.empty();
}

bool safe_link_target(const std::string& member, const std::string& target) {
  auto parts = wire::split_relative(member);
  return parts && wire::link_stays_inside(*parts, target);
}

result<packed_archive> pack_for_import(const fs::path& source,
                                       const fs::path& out,
                                       const archive_limits& limits) {
  std::error_code ec;
  auto st = fs::symlink_status(source, ec);
  if (ec || !fs::exists(st))
    return make_error(error_code::not_found,
                      "seed source " + source.string() + " does not exist");
  bool directory = fs::is_directory(st);
  if (!directory && !fs::is_regular_file(st))
    return make_error(error_code::invalid_argument,
                      source.string()
                        + " is neither a directory nor an archive file",
                      "give a directory or a .tar, .tar.gz or .tgz file");
  packed_archive result_info;
  result_info.tar_path = out;
  result_info.source_kind = directory ? "directory" : "tar_archive";

  reader_ptr in{directory ? archive_read_disk_new() : archive_read_new(),
                &archive_read_free};
  if (directory) {
    // Physical walk: symlinks are archived as links, never followed.
    archive_read_disk_set_symlink_physical(in.get());
    archive_read_disk_set_behavior(in.get(),
                                   ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
    if (archive_read_disk_open(in.get(), source.c_str()) != ARCHIVE_OK)
      return archive_failure(in.get(), "cannot read " + source.string());
  } else {
    archive_read_support_format_tar(in.get());
    archive_read_support_format_gnutar(in.get());
    archive_read_support_filter_gzip(in.get());
    archive_read_support_filter_none(in.get());
    if (archive_read_open_filename(in.get(), source.c_str(), 65536)
        != ARCHIVE_OK)
      return make_error(error_code::invalid_argument,
                        source.string()
                          + " is not a tar, .tar.gz or .tgz "
                            "archive",
                        "give a directory or a .tar, .tar.gz or .tgz file");
  }
  writer_ptr w{archive_write_new(), &archive_write_free};
  archive_write_set_format_pax_restricted(w.get());
  // Names are bytes: written as they are, never translated through the
  // locale (which fails on anything outside ASCII in the C locale).
  archive_write_set_options(w.get(), "hdrcharset=BINARY");
  if (archive_write_open_filename(w.get(), out.c_str()) != ARCHIVE_OK)
    return archive_failure(w.get(), "cannot write " + out.string());

  auto fail = [&](error err) -> result<packed_archive> {
    w.reset();
    fs::remove(out, ec);
    return err;
  };
  std::set<std::string> seen;
  std::string root_prefix = source.string();
  if (!root_prefix.empty() && root_prefix.back() != '/')
    root_prefix += '/';
  std::vector<char> buf(1 << 16);
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF)
      break;
    if (rc < ARCHIVE_WARN)
      return fail(archive_failure(in.get(), "cannot read " + source.string()));
    std::string name
      = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (directory) {
      if (name == source.string() || name + "/" == root_prefix) {
        archive_read_disk_descend(in.get());
        continue; // the root itself
      }
      if (name.rfind(root_prefix, 0) == 0)
        name = name.substr(root_prefix.size());
      archive_read_disk_descend(in.get());
    }
    std::vector<std::string> parts;
    if (name.empty() || name.front() == '/' || !normalise(name, parts))
      return fail(refused(name, "absolute paths and '..' are not allowed"));
    if (parts.empty())
      continue; // "./": the archive's root itself, which is the destination
    auto clean = join(parts);
    if (const char* hard = archive_entry_hardlink(entry); hard != nullptr) {
      std::vector<std::string> target_parts;
      std::string target{hard};
      if (directory && target.rfind(root_prefix, 0) == 0)
        target = target.substr(root_prefix.size());
      if (target.empty() || target.front() == '/'
          || !normalise(target, target_parts)
          || seen.count(join(target_parts)) == 0)
        return fail(refused(clean, "hard link to '" + target
                                     + "', which is not an earlier entry"));
      archive_entry_set_hardlink(entry, join(target_parts).c_str());
    }
    // A hard link carries no type of its own in tar.
    auto type = archive_entry_hardlink(entry) ? AE_IFREG
                                              : archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      return fail(refused(clean, "device nodes, FIFOs and sockets are not "
                                 "allowed"));
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || !safe_link_target(clean, target))
        return fail(refused(clean, std::string{"symlink target '"}
                                     + (target ? target : "")
                                     + "' points outside the archive"));
    }
    if (++result_info.entries > limits.max_entries)
      return fail(make_error(error_code::resource_exhausted,
                             "archive has more than "
                               + std::to_string(limits.max_entries)
                               + " entries"));
    auto size = type == AE_IFREG ? archive_entry_size(entry) : 0;
    result_info.bytes += static_cast<uint64_t>(std::max<la_int64_t>(0, size));
    if (result_info.bytes > limits.max_bytes)
      return fail(make_error(error_code::resource_exhausted,
                             "archive holds more than "
                               + std::to_string(limits.max_bytes) + " bytes"));
    seen.insert(clean);
    archive_entry_set_pathname(entry, clean.c_str());
    // Ownership comes from the sandbox, not the host.
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    archive_entry_set_uname(entry, "root");
    archive_entry_set_gname(entry, "root");
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK)
      return fail(archive_failure(w.get(), "cannot write entry " + clean));
    if (type == AE_IFREG && !archive_entry_hardlink(entry)) {
      for (;;) {
        auto n = archive_read_data(in.get(), buf.data(), buf.size());
        if (n < 0)
          return fail(archive_failure(in.get(), "cannot read " + clean));
        if (n == 0)
          break;
        if (archive_write_data(w.get(), buf.data(), static_cast<size_t>(n))
            != n)
          return fail(archive_failure(w.get(), "cannot write " + clean));
      }
    }
  }
  if (archive_write_close(w.get()) != ARCHIVE_OK)
    return fail(archive_failure(w.get(), "cannot finish " + out.string()));
  return result_info;
}

result<wire::unpack_totals> extract_untrusted(const fs::path& tar, int dest_fd,
                                             const archive_limits& limits) {
  sys::unique_fd file{::open(tar.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.get() < 0)
    return make_error(error_code::internal,
                      "cannot read " + tar.string() + ": "
                        + std::strerror(errno));
  wire::tar_reader reader{wire::fd_source(file.get(), tar.string())};
  wire::unpack_options options;
  options.perm_mask = host_perm_mask;
  options.max_entries = limits.max_entries;
  options.max_bytes = limits.max_bytes;
  auto unpacked = wire::unpack_tar(reader, dest_fd, options);
  if (!unpacked) {
    auto err = unpacked.err();
    if (err.hint.empty() || err.hint == "nothing was written")
      err.hint = "the sandbox sent it; nothing was written to the output";
    return err;
  }
  return unpacked;
}

} // namespace pyro
