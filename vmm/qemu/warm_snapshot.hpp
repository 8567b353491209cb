#pragma once

// Warm start: a memory snapshot of a guest taken once per environment and
// backend settings, right after its agent answered, and restored for each
// new workspace instead of booting it (~0.4 s against ~5 s under
// emulation). The snapshot's disk is a small qcow2 overlay holding what
// the boot wrote, over the environment's root image; a workspace gets a
// copy of both (a hard link for the image) under its own overlay, so the
// restored guest sees exactly the disk its memory expects, and nothing a
// later pull does to the environment can change it.

#include <filesystem>
#include <optional>

#include "messages/error.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace pyro::vmm {

struct warm_snapshot {
  std::filesystem::path dir;

  [[nodiscard]] std::filesystem::path memory() const {
    return dir / "memory";
  }
  /// The overlay the template guest booted on; its backing file is
  /// `base.ext4` beside it, named relatively.
  [[nodiscard]] std::filesystem::path disk() const {
    return dir / "disk.qcow2";
  }
  [[nodiscard]] std::filesystem::path base() const {
    return dir / "base.ext4";
  }
};

/// Whether warm starts are on (PYRO_VM_WARM=0 turns them off).
[[nodiscard]] bool warm_start_enabled();

/// The snapshot for `images` booted with `settings` (memory, vCPUs,
/// acceleration and QEMU must match for a restore), taking it first when
/// there is none: a template guest boots, is paused and saved, then quits.
/// Two processes take it once (lock). An error means: boot cold.
result<warm_snapshot> ensure_warm_snapshot(const vm_images& images,
                                           const qemu_settings& settings);

} // namespace pyro::vmm
