#pragma once

#include <chrono>
#include <filesystem>

#include "messages/error.hpp"

namespace pyro::sys {

/// An exclusive advisory lock (flock) on a lock file, held until destroyed.
/// Two processes mutating the same workspace serialise on it; the kernel
/// drops it when a holder dies, so a killed process never leaves it stuck.
class file_lock {
public:
  file_lock() = default;
  file_lock(file_lock&& other) noexcept;
  file_lock& operator=(file_lock&& other) noexcept;
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  ~file_lock();

  /// Takes the lock, creating the file and its parents, waiting at most
  /// `timeout` for another holder; `deadline_exceeded` after that. A holder
  /// may unlink the file before it lets go (its workspace is gone): a lock
  /// won on a file no longer at `path` is dropped and taken again there.
  static result<file_lock> acquire(const std::filesystem::path& path,
                                   std::chrono::milliseconds timeout);

  [[nodiscard]] bool held() const noexcept {
    return fd_ >= 0;
  }

private:
  explicit file_lock(int fd) : fd_(fd) {
    // nop
  }

  int fd_ = -1;
};

} // namespace pyro::sys
