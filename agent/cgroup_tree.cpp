#include "agent/cgroup_tree.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pyro::agent {

namespace {

using namespace std::chrono_literals;

std::string read_at(int dir_fd, const std::string& path) {
  int fd = ::openat(dir_fd, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return {};
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;)
    text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

bool write_at(int dir_fd, const std::string& path, std::string_view value) {
  int fd = ::openat(dir_fd, path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = ::write(fd, value.data(), value.size())
            == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

std::vector<pid_t> members(int dir_fd, const std::string& name) {
  std::vector<pid_t> out;
  auto text = read_at(dir_fd, name + "/cgroup.procs");
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    if (end > pos)
      out.push_back(static_cast<pid_t>(std::stol(text.substr(pos, end - pos))));
    pos = end + 1;
  }
  return out;
}

} // namespace

cgroup_group::cgroup_group(int dir_fd, std::string name, int procs_fd)
  : dir_fd_(dir_fd), name_(std::move(name)), procs_fd_(procs_fd) {
  // nop
}

cgroup_group::cgroup_group(cgroup_group&& other) noexcept
  : dir_fd_(other.dir_fd_), name_(std::move(other.name_)),
    procs_fd_(other.procs_fd_) {
  other.procs_fd_ = -1;
}

cgroup_group& cgroup_group::operator=(cgroup_group&& other) noexcept {
  if (this != &other) {
    release();
    dir_fd_ = other.dir_fd_;
    name_ = std::move(other.name_);
    procs_fd_ = other.procs_fd_;
    other.procs_fd_ = -1;
  }
  return *this;
}

cgroup_group::~cgroup_group() {
  release();
}

bool cgroup_group::populated() const {
  if (!valid())
    return false;
  auto events = read_at(dir_fd_, name_ + "/cgroup.events");
  if (!events.empty())
    return events.find("populated 1") != std::string::npos;
  return !members(dir_fd_, name_).empty(); // cgroup v1
}

void cgroup_group::kill() {
  if (!valid())
    return;
  // cgroup.kill (cgroup v2, Linux 5.14) kills atomically, forks racing it
  // included; elsewhere every member is killed until none is left.
  bool atomic = write_at(dir_fd_, name_ + "/cgroup.kill", "1");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (populated() && std::chrono::steady_clock::now() < deadline) {
    if (!atomic)
      for (pid_t pid : members(dir_fd_, name_))
        ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(1ms);
  }
}

void cgroup_group::release() {
  if (!valid())
    return;
  kill();
  ::close(procs_fd_);
  procs_fd_ = -1;
  // A group emptied a moment ago can still be busy for the kernel.
  for (int tries = 0; tries < 500; ++tries) {
    if (::unlinkat(dir_fd_, name_.c_str(), AT_REMOVEDIR) == 0
        || errno != EBUSY)
      return;
    std::this_thread::sleep_for(1ms);
  }
}

cgroup_tree& cgroup_tree::instance() {
  static cgroup_tree tree;
  return tree;
}

status cgroup_tree::adopt_fd(int dir_fd) {
  struct stat st {};
  if (dir_fd < 3 || ::fstat(dir_fd, &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(error_code::invalid_argument,
                      "--cgroup fd:" + std::to_string(dir_fd)
                        + " is not an open directory");
  ::fcntl(dir_fd, F_SETFD, FD_CLOEXEC);
  dir_fd_ = dir_fd;
  return {};
}

status cgroup_tree::adopt_path(const std::string& dir, bool join) {
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return make_error(error_code::failed_precondition,
                      "cannot open the cgroup " + dir + ": "
                        + std::strerror(errno));
  if (join && !write_at(fd, "cgroup.procs", "0")) {
    auto why = std::strerror(errno);
    ::close(fd);
    return make_error(error_code::failed_precondition,
                      "cannot join the cgroup " + dir + ": " + why);
  }
  dir_fd_ = fd;
  return {};
}

result<cgroup_group> cgroup_tree::make(std::string_view prefix) {
  if (!available())
    return cgroup_group{};
  static std::atomic<unsigned long> counter{0};
  auto name = std::string{prefix} + "-" + std::to_string(++counter);
  if (::mkdirat(dir_fd_, name.c_str(), 0755) != 0 && errno != EEXIST)
    return make_error(error_code::resource_exhausted,
                      "cannot create the cgroup for a command: "
                        + std::string{std::strerror(errno)});
  int procs = ::openat(dir_fd_, (name + "/cgroup.procs").c_str(),
                       O_WRONLY | O_CLOEXEC);
  if (procs < 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlinkat(dir_fd_, name.c_str(), AT_REMOVEDIR);
    return make_error(error_code::resource_exhausted,
                      "cannot open the cgroup for a command: " + why);
  }
  return cgroup_group{dir_fd_, std::move(name), procs};
}

void cgroup_tree::join_in_child(int procs_fd) noexcept {
  if (procs_fd < 0)
    return;
  if (::write(procs_fd, "0", 1) != 1)
    ::_exit(126);
}

} // namespace pyro::agent
