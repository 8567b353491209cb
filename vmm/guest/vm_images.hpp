#pragma once

// The VM half of an environment install: `vm/` beside `rootfs/` holding
// the kernel (vmlinux), the initramfs (initrd.img), the root disk image
// (rootfs.ext4) and vm.json, written last, so a half-built vm/ never
// counts. Built by `env pull` on hosts with a VM backend, and repaired by
// the next pull when missing or broken.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

struct vm_images {
  std::filesystem::path dir;

  [[nodiscard]] std::filesystem::path kernel() const {
    return dir / "vmlinux";
  }
  [[nodiscard]] std::filesystem::path initrd() const {
    return dir / "initrd.img";
  }
  [[nodiscard]] std::filesystem::path disk() const {
    return dir / "rootfs.ext4";
  }
};

/// The VM images of the install at `install_dir` (its `vm/`).
vm_images vm_images_of(const std::filesystem::path& install_dir);

/// Whether vm.json exists and names every file that is there.
[[nodiscard]] bool vm_images_complete(const std::filesystem::path& install_dir);

/// Whether the installed environment `name` has complete VM images.
[[nodiscard]] bool environment_vm_ready(std::string_view name);

/// vm.json's content, or null when incomplete.
nlohmann::json vm_images_info(const std::filesystem::path& install_dir);

/// Whether pulls should build VM images on this host: PYRO_VM_IMAGES=1 or
/// 0 decides; otherwise when a VM backend's binary (QEMU, Firecracker) is
/// installed.
[[nodiscard]] bool vm_images_wanted();

/// Builds `install_dir/vm` from `install_dir/rootfs`, replacing what is
/// there; the caller holds the environment's lock.
status build_vm_images(const std::filesystem::path& install_dir,
                       const std::function<void(const std::string&)>& progress);

} // namespace pyro::vmm
