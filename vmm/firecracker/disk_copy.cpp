#include "vmm/firecracker/disk_copy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"

namespace pyro::vmm::firecracker {

namespace {

constexpr size_t block = 64u << 10;

class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {
    // nop
  }
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  [[nodiscard]] int get() const {
    return fd_;
  }

private:
  int fd_;
};

bool all_zero(const char* data, size_t size) {
  return std::all_of(data, data + size, [](char c) { return c == 0; });
}

// Copies [begin, end) block by block, leaving all-zero blocks unwritten so
// that they read back as holes once the file is extended to its size.
status copy_range(int in, int out, off_t begin, off_t end,
                  std::vector<char>& buf) {
  for (off_t pos = begin; pos < end;) {
    auto want = static_cast<size_t>(std::min<off_t>(end - pos, block));
    auto n = ::pread(in, buf.data(), want, pos);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return make_error(error_code::internal,
                        std::string{"reading the disk image: "}
                          + (n == 0 ? "unexpected end" : std::strerror(errno)));
    auto got = static_cast<size_t>(n);
    if (!all_zero(buf.data(), got))
      for (size_t off = 0; off < got;) {
        auto w = ::pwrite(out, buf.data() + off, got - off,
                          pos + static_cast<off_t>(off));
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0)
          return make_error(error_code::resource_exhausted,
                            std::string{"writing the disk copy: "}
                              + std::strerror(errno));
        off += static_cast<size_t>(w);
      }
    pos += static_cast<off_t>(got);
  }
  return {};
}

status sparse_copy(int in, int out, off_t size) {
  std::vector<char> buf(block);
  for (off_t pos = 0; pos < size;) {
    off_t data = ::lseek(in, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
      break;      // only a hole is left
    if (data < 0) // no SEEK_DATA here: the zero check alone makes holes
      return copy_range(in, out, pos, size, buf);
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0)
      hole = size;
    if (auto copied = copy_range(in, out, data, hole, buf); !copied)
      return copied;
    pos = hole;
  }
  if (::ftruncate(out, size) != 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"sizing the disk copy: "}
                        + std::strerror(errno));
  return {};
}

} // namespace

result<copy_method> copy_disk_image(const std::filesystem::path& from,
                                    const std::filesystem::path& to) {
  fd_guard in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.get() < 0)
    return make_error(errno == ENOENT ? error_code::not_found
                                      : error_code::internal,
                      "cannot open the disk image " + from.string() + ": "
                        + std::strerror(errno));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return make_error(error_code::internal, "the disk image " + from.string()
                                              + " is not a regular file");
  auto tmp = to;
  tmp += ".part";
  fd_guard out{
    ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (out.get() < 0)
    return make_error(error_code::internal, "cannot create " + tmp.string()
                                              + ": " + std::strerror(errno));
  auto method = copy_method::reflink;
  if (::ioctl(out.get(), FICLONE, in.get()) != 0) {
    method = copy_method::sparse;
    if (auto copied = sparse_copy(in.get(), out.get(), st.st_size); !copied) {
      ::unlink(tmp.c_str());
      return make_error(copied.err().code, copied.err().message + " ("
                                             + from.string() + " -> "
                                             + to.string() + ")");
    }
  }
  if (::fsync(out.get()) != 0 || ::rename(tmp.c_str(), to.c_str()) != 0) {
    auto err = std::string{std::strerror(errno)};
    ::unlink(tmp.c_str());
    return make_error(error_code::internal,
                      "cannot put the disk copy in place at " + to.string()
                        + ": " + err);
  }
  static_cast<void>(sys::sync_directory(to.parent_path()));
  return method;
}

} // namespace pyro::vmm::firecracker
