#include "messages/sys/atomic_file.hpp"

#include "messages/sys/owned_temp.hpp"
#include "messages/sys/unique_fd.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

namespace pyro::sys {

namespace {

error io_error(const std::string& what, const std::filesystem::path& path,
               int err) {
  return make_error(error_code::internal,
                    what + " " + path.string() + ": " + std::strerror(err));
}

std::string temp_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng());
}

using fd_guard = unique_fd;

} // namespace

status sync_directory(const std::filesystem::path& dir) {
  fd_guard fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (fd.get() < 0)
    return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0)
    return io_error("cannot fsync directory", dir, errno);
  return {};
}

status sync_file(const std::filesystem::path& path) {
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return io_error("cannot open", path, errno);
  if (::fsync(fd.get()) != 0)
    return io_error("cannot fsync", path, errno);
  return {};
}

namespace {

status write_atomically(const std::filesystem::path& path,
                        std::string_view contents, unsigned mode, bool sync,
                        bool replace = true) {
  auto dir = path.parent_path();
  if (dir.empty())
    dir = ".";
  auto tmp = path;
  tmp += temp_suffix();
  fd_guard fd{
    ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)};
  if (fd.get() < 0)
    return io_error("cannot create", tmp, errno);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(what, tmp, err);
  };
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    auto n = ::write(fd.get(), data, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fail("cannot write");
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd.get()) != 0)
    return fail("cannot fsync");
  if (::close(fd.release()) != 0)
    return fail("cannot close");
  if (!replace) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(),
                    RENAME_NOREPLACE)
        != 0) {
      if (errno != EEXIST)
        return fail("cannot rename to " + path.string() + " from");
      ::unlink(tmp.c_str());
      return make_error(error_code::already_exists,
                        path.string() + " already exists");
    }
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("cannot rename over " + path.string() + " from");
  }
  return sync ? sync_directory(dir) : status{};
}

} // namespace

status write_file_atomic(const std::filesystem::path& path,
                         std::string_view contents, unsigned mode) {
  return write_atomically(path, contents, mode, true);
}

status write_file_exclusive(const std::filesystem::path& path,
                            std::string_view contents, unsigned mode) {
  return write_atomically(path, contents, mode, true, false);
}

status write_file_atomic_unsynced(const std::filesystem::path& path,
                                  std::string_view contents, unsigned mode) {
  return write_atomically(path, contents, mode, false);
}

void remove_stale_temp_files(const std::filesystem::path& path) {
  remove_dead_temps(path.parent_path(), path.filename().string() + ".tmp.");
}

result<std::string> read_file(const std::filesystem::path& path) {
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0) {
    if (errno == ENOENT)
      return make_error(error_code::not_found,
                        path.string() + " does not exist");
    return io_error("cannot open", path, errno);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return io_error("cannot read", path, errno);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

} // namespace pyro::sys
