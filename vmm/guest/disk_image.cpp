#include "vmm/guest/disk_image.hpp"

#include <algorithm>

#include "vmm/guest/shell.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint64_t tree_bytes(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
         root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec) && !it->is_symlink(ec))
      total += it->file_size(ec);
  return total;
}

status make_root_image(const fs::path& rootfs, const fs::path& image) {
  // The image is sparse: its size is room the workspace may grow into,
  // not bytes spent now.
  constexpr uint64_t mib = 1u << 20;
  uint64_t size_mib
    = std::max<uint64_t>(2048, 2 * tree_bytes(rootfs) / mib + 1024);
  std::error_code ec;
  fs::remove(image, ec);
  // Inode tables and journal initialised now: the kernel's lazy init
  // thread would otherwise burn emulated CPU in every fresh guest.
  return run_shell("mke2fs -q -F -t ext4 -L pyro-root -J size=16 -i 16384"
                   " -E lazy_itable_init=0,lazy_journal_init=0 -d "
                     + shell_quote(rootfs) + " " + shell_quote(image) + " "
                     + std::to_string(size_mib) + "M",
                   5min);
}

status make_overlay(const fs::path& base, const std::string& base_format,
                    const fs::path& overlay) {
  std::error_code ec;
  fs::remove(overlay, ec);
  return run_shell("qemu-img create -q -f qcow2 -F " + base_format + " -b "
                     + shell_quote(base) + " " + shell_quote(overlay),
                   1min);
}

status flatten_to_raw(const fs::path& overlay, const fs::path& raw) {
  std::error_code ec;
  fs::remove(raw, ec);
  return run_shell("qemu-img convert -q -O raw " + shell_quote(overlay) + " "
                     + shell_quote(raw),
                   10min);
}

} // namespace pyro::vmm
