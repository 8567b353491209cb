#pragma once

// A rootfs directory as one tar+gzip OCI layer, and back.

#include <filesystem>

#include "messages/error.hpp"

namespace pyro::vmm {

/// Writes every file, directory and symlink under `rootfs` (modes kept,
/// owners as root) into a tar+gzip at `out`. Device nodes, sockets and
/// fifos are skipped: a sandbox rootfs gets /dev from the backend.
status write_rootfs_layer(const std::filesystem::path& rootfs,
                          const std::filesystem::path& out);

/// Extracts a tar(+gzip) layer into `root`, refusing any entry that would
/// land outside it: absolute paths, `..` components, hard links out of
/// the tree, and writes through symlinks (libarchive's SECURE_* flags plus
/// checks of each name here). Device nodes are skipped, as above.
/// `invalid_argument` names the offending entry.
status extract_rootfs_layer(const std::filesystem::path& layer,
                            const std::filesystem::path& root);

} // namespace pyro::vmm
