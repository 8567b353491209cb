#pragma once

// Unpacks a tar stream into a directory, the one way both sides write what
// a sandbox made: the agent when it imports into /workspace, the host when it
// exports to the user's disk. Names are bytes and symlinks are data (any
// target is written as it is); safety comes from never following a link
// while writing: every directory on the way is opened O_NOFOLLOW below the
// root, and files are created O_EXCL.

#include <cstdint>

#include "messages/error.hpp"
#include "messages/wire/tar.hpp"

namespace pyro::wire {

struct unpack_options {
  /// Permission bits kept; the host drops setuid, setgid, sticky and group
  /// or other write (0755), the agent keeps everything (07777).
  uint32_t perm_mask = 07777;
  uint64_t max_entries = 200000;
  uint64_t max_bytes = uint64_t{8} << 30;
  /// Leading name components dropped from every member and hard link
  /// target, as `tar --strip-components`; members left with no name (the
  /// archive's top directory) are skipped.
  size_t strip_components = 0;
  /// Deepest member accepted, in directories: far past any PATH_MAX tree,
  /// short of what would exhaust descriptors or stacks on the way down.
  size_t max_depth = 4096;
};

struct unpack_totals {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

/// Writes every member of `reader` below `root_fd` (a directory the caller
/// made for this and nothing else writes to). Refused, with the member named:
/// absolute names and '..', device nodes, hard links to anything but an
/// earlier member, a path through a symlink or a non-directory, and going
/// past the limits. Directory modes and times are set last, deepest first,
/// so writing their contents does not undo them. On failure the caller
/// removes what was written.
result<unpack_totals> unpack_tar(tar_reader& reader, int root_fd,
                                 const unpack_options& options = {});

} // namespace pyro::wire
