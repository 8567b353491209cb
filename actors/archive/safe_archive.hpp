#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "messages/error.hpp"
#include "messages/wire/tar_unpack.hpp"

namespace pyro {

/// Caps on what one archive may hold.
struct archive_limits {
  uint64_t max_entries = 200000;
  uint64_t max_bytes = uint64_t{8} << 30;
};

/// A validated plain tar, ready to stream into a workspace.
struct packed_archive {
  std::filesystem::path tar_path;
  /// directory or tar_archive, as `workspace_seed.mode` reports it.
  std::string source_kind;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

/// The one hardened path by which host content enters a workspace (seed,
/// sync and reset all use it): a host directory or a .tar, .tar.gz or .tgz
/// is read and rewritten as a plain pax tar at `out`. Every entry is checked
/// on the way: relative names only, no `..`, symlinks whose targets stay
/// inside, hard links to earlier entries only, no device nodes, FIFOs or
/// sockets, and the limits. The first violation is refused with its entry
/// named, and `out` is removed.
result<packed_archive> pack_for_import(const std::filesystem::path& source,
                                       const std::filesystem::path& out,
                                       const archive_limits& limits = {});

/// Writes a tar that came from a sandbox (untrusted) into the directory
/// `dest_fd`, which the caller made empty for it: names are bytes and link
/// targets are kept as they are, nothing is written through a symlink,
/// device nodes are refused. What lands is plain: owned by the calling
/// process, no setuid, setgid or sticky bit, no group or other write,
/// modification times as in the archive. On failure the caller removes
/// the directory.
result<wire::unpack_totals> extract_untrusted(const std::filesystem::path& tar,
                                             int dest_fd,
                                             const archive_limits& limits = {});

/// Whether a member name, normalised, stays below the archive root.
[[nodiscard]] bool safe_member_name(const std::string& name);

/// Whether a symlink at `member` pointing at `target` resolves inside the
/// archive root.
[[nodiscard]] bool safe_link_target(const std::string& member,
                                    const std::string& target);

} // namespace pyro
