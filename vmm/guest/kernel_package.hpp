#pragma once

// The guest kernel: Debian's amd64 kernel package, fetched with the package
// manager's download (never installed on the host) and unpacked once per
// host into a cache shared by every PYRO_HOME: the uncompressed vmlinux,
// which QEMU boots through its PVH note at twice the speed of the
// compressed image under emulation and which Firecracker wants anyway, and
// the few modules a guest needs.

#include <filesystem>
#include <functional>
#include <string>

#include "messages/error.hpp"

namespace pyro::vmm {

struct guest_kernel {
  /// The package, e.g. linux-image-6.1.0-56-amd64.
  std::string package;
  /// `uname -r` of the guest, e.g. 6.1.0-56-amd64.
  std::string release;
  std::filesystem::path dir;

  [[nodiscard]] std::filesystem::path vmlinux() const {
    return dir / "vmlinux";
  }
  /// Holds kernel/... as under /lib/modules/<release>.
  [[nodiscard]] std::filesystem::path modules_root() const {
    return dir / "modules";
  }
};

/// `PYRO_KERNEL_CACHE_DIR`, default `$XDG_CACHE_HOME/pyro/kernels`.
std::filesystem::path kernel_cache_dir();

/// The cached kernel, fetched and unpacked first when missing (under a
/// lock: two processes fetch once). `PYRO_GUEST_KERNEL_DEB` names a local
/// kernel package to use instead of downloading one (offline hosts).
result<guest_kernel>
ensure_guest_kernel(const std::function<void(const std::string&)>& progress);

/// The ELF kernel inside a Debian vmlinuz (an XZ-compressed bzImage).
status extract_vmlinux(const std::filesystem::path& vmlinuz,
                       const std::filesystem::path& vmlinux);

} // namespace pyro::vmm
