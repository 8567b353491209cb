#include "messages/sys/owned_temp.hpp"

#include <cerrno>
#include <cstdlib>
#include <random>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pyro::sys {

std::string owned_temp_name(const std::string& prefix) {
  // Seeded per thread; the pid keeps forked children apart.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return prefix + std::to_string(::getpid()) + "-" + std::to_string(rng());
}

void remove_dead_temps(const std::filesystem::path& dir,
                       const std::string& prefix) {
  std::error_code ec;
  for (const auto& dirent : std::filesystem::directory_iterator(dir, ec)) {
    auto name = dirent.path().filename().string();
    if (name.rfind(prefix, 0) != 0)
      continue;
    // Only what this user made and no one else could write to: in a shared
    // directory (an export into /tmp) another user's look-alike, or one
    // whose insides they can swap for a symlink, is never walked.
    struct stat st {};
    if (::lstat(dirent.path().c_str(), &st) != 0 || st.st_uid != ::geteuid()
        || (st.st_mode & 022) != 0 || S_ISLNK(st.st_mode))
      continue;
    auto pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    bool gone
      = pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
    if (gone)
      std::filesystem::remove_all(dirent.path(), ec);
  }
}

} // namespace pyro::sys
