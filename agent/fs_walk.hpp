#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "messages/error.hpp"

namespace pyro::agent {

struct walk_entry {
  std::string path;
  /// file, directory, symlink or other.
  std::string type;
  uint32_t mode = 0;
  uint64_t size = 0;
  std::string link;
  /// Modification time (seconds since the epoch), carried into exports.
  int64_t mtime = 0;
  /// The whole st_mode, to tell FIFOs and sockets from devices among
  /// `other` entries.
  uint32_t st_mode = 0;
  /// Identity and link count, so an export writes a hard link once.
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t links = 1;
};

/// Describes `name` in `dir_fd` (empty name: `dir_fd` itself) without
/// following a symlink; `path` is what the entry reports.
result<walk_entry> stat_entry(int dir_fd, const std::string& name,
                              const std::string& path);

/// Called for every entry with the directory that holds it.
using walk_fn = std::function<status(const walk_entry& entry, int dir_fd,
                                     const std::string& name)>;

/// Visits the entries of a directory (opened O_RDONLY) in name order,
/// descending when `recursive`, never following symlinks. Paths are
/// `base/name`, or just `name` when base is empty.
status walk_tree(int dir_fd, const std::string& base, bool recursive,
                 const walk_fn& visit);

/// Removes `name` in `dir_fd` and everything below it.
status remove_tree(int dir_fd, const std::string& name);

} // namespace pyro::agent
