#pragma once

// Random workspace trees for the round-trip property test: every kind of
// entry a workspace can hold (files, empty directories, symlinks with any
// target, hard links, FIFOs, sockets), names that are arbitrary bytes, a
// path longer than PATH_MAX, odd modes and fixed modification times. The
// tree is made inside the sandbox by a generated shell script, and what
// comes back to the host is checked against the same description.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace pyro::test {

struct tree_entry {
  /// Relative to the tree's root; components are bytes (no '/' or NUL).
  std::string path;
  /// 'f' file, 'd' directory, 'l' symlink, 'h' hard link to `target`,
  /// 'p' FIFO, 's' socket.
  char type = 'f';
  uint32_t mode = 0644;
  /// 0: not checked (directories whose children are made after them).
  int64_t mtime = 0;
  std::string content;
  /// Symlink target, or for 'h' the path of the file it links to.
  std::string target;
};

struct random_tree {
  std::vector<tree_entry> entries;

  /// A tree of about `count` entries drawn from `rng`.
  static random_tree generate(std::mt19937_64& rng, int count);

  /// A busybox sh script that makes the tree in its working directory.
  /// `mksock PATH` must be on PATH to make sockets.
  [[nodiscard]] std::string script() const;
};

/// What a host directory holds, walked by file descriptor (paths may be
/// longer than PATH_MAX), keyed by path relative to it.
struct host_entry {
  char type = '?';
  uint32_t perm = 0;
  int64_t mtime = 0;
  std::string content;
  std::string target;
  uint64_t inode = 0;
};

std::map<std::string, host_entry> walk_host(const std::string& root);

/// The differences between `tree` as exported to the host (permissions
/// masked to 0755) and `found`; empty when they agree.
std::vector<std::string> compare_export(const random_tree& tree,
                                        const std::map<std::string, host_entry>& found);

/// Printable form of a byte path, for messages.
std::string printable(const std::string& bytes);

} // namespace pyro::test
