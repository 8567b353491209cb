#include "actors/activity_file.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "messages/sys/unique_fd.hpp"

namespace pyro {

namespace {

// Fixed, so that an in-place write always covers the whole of the last one.
constexpr size_t file_bytes = 96;

std::optional<activity> parse_line(const char* line) {
  activity a;
  int used = 0;
  if (std::sscanf(line, "%" SCNd64 " %lf%n", &a.command_count,
                  &a.last_activity_at, &used)
        != 2
      || line[used] != '\n' || a.command_count < 0)
    return std::nullopt;
  return a;
}

} // namespace

activity_file::activity_file(std::filesystem::path path)
  : path_(std::move(path)) {
  // nop
}

std::optional<activity> activity_file::read() const {
  sys::unique_fd fd{::open(path_.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.get() < 0)
    return std::nullopt;
  for (int attempt = 0; attempt < 3; ++attempt) {
    char buf[file_bytes + 1] = {};
    auto n = ::pread(fd.get(), buf, file_bytes, 0);
    if (n <= 0)
      return std::nullopt;
    const char* second = std::strchr(buf, '\n');
    if (second == nullptr)
      return std::nullopt;
    ++second;
    auto first_len = static_cast<size_t>(second - buf);
    if (std::strncmp(buf, second, first_len) == 0)
      return parse_line(buf);
  }
  return std::nullopt;
}

status activity_file::write(const activity& now) const {
  char line[file_bytes / 2];
  int len = std::snprintf(line, sizeof(line), "%" PRId64 " %.3f\n",
                          now.command_count, now.last_activity_at);
  if (len <= 0 || static_cast<size_t>(len) >= sizeof(line))
    return make_error(error_code::internal, "activity value out of range");
  std::string text = std::string{line} + line;
  text.resize(file_bytes - 1, ' ');
  text += '\n';
  sys::unique_fd fd{
    ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)};
  if (fd.get() < 0
      || ::pwrite(fd.get(), text.data(), text.size(), 0)
           != static_cast<ssize_t>(text.size()))
    return make_error(error_code::internal, "cannot write " + path_.string()
                                              + ": " + std::strerror(errno));
  return {};
}

} // namespace pyro
