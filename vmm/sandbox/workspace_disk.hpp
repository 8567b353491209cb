#pragma once

// A workspace's disk limit on the sandbox backend: everything the sandbox
// writes (its overlay's upper layer, /workspace included) lives in a sparse
// ext4 image of the workspace's size, so filling it gives ENOSPC inside and
// leaves the host's file system alone. Only root can mount it (through a
// loop device); unprivileged sandboxes keep plain directories and report
// the limit as not enforced.

#include <filesystem>

#include "messages/error.hpp"

namespace pyro::vmm {

/// The image of a workspace whose layer directory is `layers`.
std::filesystem::path disk_image_path(const std::filesystem::path& layers);

/// Whether this process can give sandboxes a disk limit.
[[nodiscard]] bool disk_limits_enforceable();

/// Creates the image (holding empty upper/ and work/ directories owned by
/// id 0) unless it exists. All or nothing: made aside, then renamed.
status make_disk_image(const std::filesystem::path& image, int disk_mib);

} // namespace pyro::vmm
