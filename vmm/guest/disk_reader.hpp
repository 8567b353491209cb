#pragma once

// Offline reads of a guest's ext4 disk with debugfs: the image is never
// mounted, so nothing in it (symlinks, device nodes, a hostile file system
// a guest wrote) reaches the host's kernel VFS or paths. Paths are guest
// paths inside the image.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "messages/error.hpp"

namespace pyro::vmm {

struct disk_entry {
  std::string path;
  /// file, directory, symlink or other.
  std::string type;
  uint64_t size = 0;
  unsigned mode = 0;
};

struct disk_file {
  std::string path;
  std::string content;
  uint64_t size = 0;
  bool truncated = false;
};

/// Entries under `path` (a directory), or the one entry `path` names.
result<std::vector<disk_entry>> list_disk(const std::filesystem::path& image,
                                          const std::string& path,
                                          bool recursive);

/// The first `max_bytes` of the regular file at `path`.
result<disk_file> read_disk_file(const std::filesystem::path& image,
                                 const std::string& path, uint64_t max_bytes);

/// Removes /run/pyro-* (agent runtime files, secrets) from a writable
/// image, so what leaves the host's workspace directory never carries them.
status scrub_runtime_paths(const std::filesystem::path& image);

} // namespace pyro::vmm
