#pragma once

#include <filesystem>

#include "messages/error.hpp"

namespace pyro::vmm::firecracker {

/// How `copy_disk_image` made the copy.
enum class copy_method {
  /// FICLONE: the copy shares the source's blocks until either is written.
  reflink,
  /// Only the source's data extents were written; holes stay holes.
  sparse,
};

/// `cp --reflink=auto --sparse=always`: a per-workspace disk image costs
/// nothing on btrfs or XFS and only the used blocks elsewhere. Writes to a
/// temporary name beside `to` and renames it into place, so a copy cut short
/// is never taken for a disk. `not_found` if `from` is missing.
result<copy_method> copy_disk_image(const std::filesystem::path& from,
                                    const std::filesystem::path& to);

} // namespace pyro::vmm::firecracker
