#include "vmm/environments/rootfs_layer.hpp"

#include <algorithm>
#include <fstream>
#include <memory>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

using archive_ptr = std::unique_ptr<archive, int (*)(archive*)>;
using entry_ptr = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

error archive_failure(const std::string& what, archive* a) {
  return make_error(error_code::internal,
                    what + ": " + (archive_error_string(a)
                                     ? archive_error_string(a)
                                     : "unknown libarchive error"),
                    "check free space and permissions of the environment "
                    "cache");
}

// A name is safe when it is relative and never climbs.
bool safe_relative(std::string_view name) {
  if (name.empty() || name.front() == '/')
    return false;
  size_t i = 0;
  while (i <= name.size()) {
    auto j = name.find('/', i);
    if (j == std::string_view::npos)
      j = name.size();
    if (name.substr(i, j - i) == "..")
      return false;
    i = j + 1;
  }
  return true;
}

} // namespace

status write_rootfs_layer(const fs::path& rootfs, const fs::path& out) {
  archive_ptr a{archive_write_new(), archive_write_free};
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_gzip(a.get());
  if (archive_write_open_filename(a.get(), out.c_str()) != ARCHIVE_OK)
    return archive_failure("cannot create " + out.string(), a.get());
  std::error_code ec;
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(rootfs, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    paths.push_back(it->path());
  if (ec)
    return make_error(error_code::internal,
                      "cannot walk " + rootfs.string() + ": " + ec.message());
  // Sorted so that the same tree gives the same layer bytes.
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0)
      continue;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
      continue;
    entry_ptr e{archive_entry_new(), archive_entry_free};
    auto rel = p.lexically_relative(rootfs).string();
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_uname(e.get(), "root");
    archive_entry_set_gname(e.get(), "root");
    archive_entry_set_nlink(e.get(), 1);
    if (S_ISLNK(st.st_mode)) {
      auto target = fs::read_symlink(p, ec).string();
      archive_entry_set_symlink(e.get(), target.c_str());
      archive_entry_set_size(e.get(), 0);
    }
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
      return archive_failure("cannot add " + rel, a.get());
    if (S_ISREG(st.st_mode)) {
      std::ifstream in{p, std::ios::binary};
      char buf[1 << 16];
      while (in.read(buf, sizeof buf) || in.gcount() > 0)
        if (archive_write_data(a.get(), buf,
                               static_cast<size_t>(in.gcount()))
            < 0)
          return archive_failure("cannot write " + rel, a.get());
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    return archive_failure("cannot finish " + out.string(), a.get());
  return {};
}

status extract_rootfs_layer(const fs::path& layer, const fs::path& root) {
  archive_ptr in{archive_read_new(), archive_read_free};
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_filter_none(in.get());
  if (archive_read_open_filename(in.get(), layer.c_str(), 1 << 16)
      != ARCHIVE_OK)
    return archive_failure("cannot open layer " + layer.string(), in.get());
  archive_ptr out{archive_write_disk_new(), archive_write_free};
  archive_write_disk_set_options(
    out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
                 | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                 | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  // No SECURE_NOABSOLUTEPATHS: names are rejected above when absolute and
  // then joined to `root`, which is absolute itself.
  std::error_code ec;
  fs::create_directories(root, ec);
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(in.get(), &e);
    if (rc == ARCHIVE_EOF)
      break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return archive_failure("corrupt layer " + layer.string(), in.get());
    std::string name = archive_entry_pathname(e);
    while (name.rfind("./", 0) == 0)
      name.erase(0, 2);
    if (name.empty() || name == ".")
      continue;
    auto refuse = [&](const std::string& why) {
      return make_error(error_code::invalid_argument,
                        "layer entry '" + name + "' " + why,
                        "the environment image is malicious or broken; "
                        "do not use it");
    };
    if (!safe_relative(name))
      return refuse("escapes the rootfs");
    bool hardlink = false;
    if (const char* hl = archive_entry_hardlink(e)) {
      std::string target = hl;
      while (target.rfind("./", 0) == 0)
        target.erase(0, 2);
      if (!safe_relative(target))
        return refuse("hard-links outside the rootfs");
      archive_entry_set_hardlink(e, (root / target).c_str());
      hardlink = true;
    }
    // libarchive reports a hard link with no file type of its own.
    auto type = archive_entry_filetype(e);
    if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      continue; // devices, fifos, sockets: the sandbox supplies /dev
    // An absolute or climbing symlink target is fine inside a rootfs the
    // sandbox mounts as /; SECURE_SYMLINKS stops later entries writing
    // through one.
    archive_entry_set_pathname(e, (root / name).c_str());
    if (archive_write_header(out.get(), e) != ARCHIVE_OK)
      return refuse(std::string{"cannot be extracted: "}
                    + archive_error_string(out.get()));
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((rc = archive_read_data_block(in.get(), &buf, &size, &offset))
           == ARCHIVE_OK)
      if (archive_write_data_block(out.get(), buf, size, offset)
          != ARCHIVE_OK)
        return archive_failure("cannot write " + name, out.get());
    if (rc != ARCHIVE_EOF)
      return archive_failure("corrupt layer data at " + name, in.get());
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK)
      return archive_failure("cannot finish " + name, out.get());
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK)
    return archive_failure("cannot finish extraction", out.get());
  return {};
}

} // namespace pyro::vmm
