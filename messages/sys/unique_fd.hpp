#pragma once

#include <unistd.h>

namespace pyro::sys {

/// Owns a file descriptor and closes it once.
class unique_fd {
public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {
    // nop
  }

  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {
    // nop
  }

  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }

  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  ~unique_fd() {
    reset();
  }

  [[nodiscard]] int get() const noexcept {
    return fd_;
  }

  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  void reset() noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_;
};

} // namespace pyro::sys
