#include "messages/sys/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pyro::sys {

file_lock::file_lock(file_lock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

file_lock& file_lock::operator=(file_lock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

file_lock::~file_lock() {
  if (fd_ >= 0)
    ::close(fd_); // closing the only descriptor releases the flock
}

namespace {

// Whether `fd` is still the file at `path`: a lock file is unlinked by the
// holder that deletes its workspace, and a lock taken on the unlinked file
// would not exclude whoever opens the path next.
bool still_at(int fd, const std::filesystem::path& path) {
  struct stat held {};
  struct stat named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0
         && held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

} // namespace

result<file_lock> file_lock::acquire(const std::filesystem::path& path,
                                     std::chrono::milliseconds timeout) {
  std::error_code ec;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds{1};
  for (;;) {
    std::filesystem::create_directories(path.parent_path(), ec);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return make_error(error_code::internal, "cannot open lock file "
                                                + path.string() + ": "
                                                + std::strerror(errno));
    file_lock lock{fd};
    for (;;) {
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
        break;
      if (errno != EWOULDBLOCK && errno != EINTR)
        return make_error(error_code::internal, "cannot lock " + path.string()
                                                  + ": "
                                                  + std::strerror(errno));
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error(error_code::deadline_exceeded,
                          "timed out waiting for the lock " + path.string(),
                          "another pyro process is working on the same "
                          "workspace; retry when it is done");
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds{50});
    }
    if (still_at(fd, path))
      return lock;
    // Its holder removed it on the way out: start over on the path.
  }
}

} // namespace pyro::sys
