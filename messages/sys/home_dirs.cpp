#include "messages/sys/home_dirs.hpp"

#include <cstdlib>

#include <pwd.h>
#include <unistd.h>

namespace pyro::sys {

namespace {

std::filesystem::path from_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    return {};
  return value;
}

} // namespace

std::filesystem::path user_home() {
  if (auto home = from_env("HOME"); !home.empty())
    return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr)
    return pw->pw_dir;
  return "/";
}

std::filesystem::path user_cache_home() {
  if (auto dir = from_env("XDG_CACHE_HOME"); !dir.empty())
    return dir;
  return user_home() / ".cache";
}

std::filesystem::path pyro_home() {
  if (auto dir = from_env("PYRO_HOME"); !dir.empty())
    return dir;
  return user_home() / ".local" / "share" / "pyro";
}

} // namespace pyro::sys
