#pragma once

// A guest's root disk is an ext4 image made from the environment's rootfs
// with `mke2fs -d` (no mount, no root needed). Each workspace boots a
// copy-on-write qcow2 overlay of it; the disk tools read a stopped
// workspace's disk offline with debugfs, never mounting it.

#include <cstdint>
#include <filesystem>
#include <string>

#include "messages/error.hpp"

namespace pyro::vmm {

/// Bytes in the regular files under `root` (links not followed).
uint64_t tree_bytes(const std::filesystem::path& root);

/// Builds `image` from `rootfs`, sized for the tree plus room for work.
status make_root_image(const std::filesystem::path& rootfs,
                       const std::filesystem::path& image);

/// A qcow2 overlay at `overlay` whose backing file is `base` (raw or
/// qcow2); a relative `base` is relative to the overlay's directory, which
/// keeps a directory of images movable.
status make_overlay(const std::filesystem::path& base,
                    const std::string& base_format,
                    const std::filesystem::path& overlay);

/// The whole disk behind `overlay` as a raw image at `raw` (sparse).
status flatten_to_raw(const std::filesystem::path& overlay,
                      const std::filesystem::path& raw);

} // namespace pyro::vmm
