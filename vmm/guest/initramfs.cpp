#include "vmm/guest/initramfs.hpp"

#include <memory>
#include <set>
#include <sstream>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/guest/kernel_modules.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

using archive_ptr = std::unique_ptr<archive, decltype(&archive_write_free)>;

// Every guest loads these; the vsock group only when its channel is vsock.
const std::vector<std::string> base_modules
  = {"virtio_mmio", "virtio_blk", "virtio_console", "ext4"};
const std::vector<std::string> vsock_modules = {"vmw_vsock_virtio_transport"};

class cpio_writer {
public:
  explicit cpio_writer(const fs::path& out)
    : a_(archive_write_new(), archive_write_free) {
    archive_write_set_format_cpio_newc(a_.get());
    ok_ = archive_write_open_filename(a_.get(), out.c_str()) == ARCHIVE_OK;
  }

  status add(const std::string& name, mode_t type, mode_t perm,
             const std::string& body = {}, dev_t rdev = 0) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
    archive_entry_set_rdev(e, rdev);
    archive_entry_set_nlink(e, type == AE_IFDIR ? 2 : 1);
    bool written = archive_write_header(a_.get(), e) == ARCHIVE_OK
                   && (body.empty()
                       || archive_write_data(a_.get(), body.data(), body.size())
                            == static_cast<la_ssize_t>(body.size()));
    archive_entry_free(e);
    if (!written)
      return error_here();
    return {};
  }

  status add_file(const std::string& name, const fs::path& from, mode_t perm) {
    auto body = sys::read_file(from);
    if (!body)
      return body.err();
    return add(name, AE_IFREG, perm, *body);
  }

  status close() {
    if (!ok_ || archive_write_close(a_.get()) != ARCHIVE_OK)
      return error_here();
    return {};
  }

private:
  error error_here() {
    const char* why = archive_error_string(a_.get());
    return make_error(error_code::internal,
                      std::string{"cannot write the initramfs: "}
                        + (why != nullptr ? why : "unknown error"));
  }

  archive_ptr a_;
  bool ok_ = false;
};

} // namespace

status write_initramfs(const fs::path& out, const guest_kernel& kernel,
                       const fs::path& agent) {
  auto modules = scan_modules(kernel.modules_root());
  if (!modules)
    return modules.err();
  auto base = load_order(*modules, base_modules);
  if (!base)
    return base.err();
  auto vsock = load_order(*modules, vsock_modules);
  if (!vsock)
    return vsock.err();
  cpio_writer cpio{out};
  for (const char* dir :
       {"dev", "proc", "sys", "newroot", "lib", "lib/pyro", "lib/modules"})
    if (auto ok = cpio.add(dir, AE_IFDIR, 0755); !ok)
      return ok;
  // The kernel opens /dev/console for init's stdio before anything mounts.
  if (auto ok = cpio.add("dev/console", AE_IFCHR, 0600, {}, makedev(5, 1)); !ok)
    return ok;
  if (auto ok = cpio.add_file("init", agent, 0755); !ok)
    return ok;
  std::ostringstream order;
  std::set<std::string> packed;
  std::set<fs::path> dirs;
  auto pack = [&](const std::vector<module_info>& group, const char* tag) {
    for (const auto& m : group) {
      order << tag << ' ' << m.path.string() << '\n';
      if (!packed.insert(m.path.string()).second)
        continue;
      for (auto d = m.path.parent_path(); !d.empty(); d = d.parent_path())
        dirs.insert(d);
    }
  };
  pack(*base, "base");
  pack(*vsock, "vsock");
  for (const auto& d : dirs) // a set of paths sorts parents first
    if (auto ok = cpio.add("lib/modules/" + d.string(), AE_IFDIR, 0755); !ok)
      return ok;
  for (const auto& rel : packed)
    if (auto ok = cpio.add_file("lib/modules/" + rel,
                                kernel.modules_root() / rel, 0644);
        !ok)
      return ok;
  if (auto ok = cpio.add("lib/pyro/modules.order", AE_IFREG, 0644, order.str());
      !ok)
    return ok;
  return cpio.close();
}

} // namespace pyro::vmm
