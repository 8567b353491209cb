#include "vmm/environments/environment_users.hpp"

#include <cerrno>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/sha256.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path users_dir() {
  return environment_cache_dir() / ".users";
}

fs::path use_lock_path(std::string_view environment) {
  return environment_cache_dir() / ".locks"
         / (environment_install_dir(environment).filename().string() + ".use");
}

// Read-only is enough for flock, and lets homes of other users share the
// lock file.
sys::unique_fd open_use_lock(std::string_view environment) {
  auto path = use_lock_path(environment);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  return sys::unique_fd{
    ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644)};
}

} // namespace

environment_lock environment_lock::shared(std::string_view environment) {
  environment_lock out;
  out.fd_ = open_use_lock(environment);
  if (out.held())
    while (::flock(out.fd_.get(), LOCK_SH) != 0)
      if (errno != EINTR) {
        out.fd_.reset();
        break;
      }
  return out;
}

environment_lock environment_lock::exclusive(std::string_view environment) {
  environment_lock out;
  out.fd_ = open_use_lock(environment);
  if (out.held() && ::flock(out.fd_.get(), LOCK_EX | LOCK_NB) != 0)
    out.fd_.reset();
  return out;
}

fs::path marker_home(const fs::path& home) {
  std::error_code ec;
  auto resolved = fs::weakly_canonical(fs::absolute(home, ec), ec);
  if (ec)
    return fs::absolute(home).lexically_normal();
  return resolved;
}

environment_lock use_environment(const fs::path& home,
                                 std::string_view environment) {
  // A home that uses the cache exists: prune forgets those that do not.
  std::error_code ec;
  fs::create_directories(home, ec);
  auto who = marker_home(home);
  auto body = json{{"pyro_home", who.string()},
                   {"environment", std::string{environment}}}
                .dump();
  auto marker
    = users_dir()
      / (sha256_of(who.string()).substr(7, 16) + "-"
         + environment_install_dir(environment).filename().string() + ".json");
  // Written once: every create would otherwise fsync the cache for nothing.
  if (auto have = sys::read_file(marker); !have || *have != body) {
    fs::create_directories(marker.parent_path(), ec);
    static_cast<void>(sys::write_file_atomic(marker, body));
  }
  return environment_lock::shared(environment);
}

std::vector<environment_user> environment_users() {
  std::vector<environment_user> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(users_dir(), ec)) {
    if (e.path().extension() != ".json")
      continue;
    auto text = sys::read_file(e.path());
    if (!text)
      continue;
    auto j = json::parse(*text, nullptr, false);
    if (!j.is_object() || !j.contains("pyro_home")
        || !j["pyro_home"].is_string() || !j.contains("environment")
        || !j["environment"].is_string())
      continue;
    fs::path home = j["pyro_home"].get<std::string>();
    if (!home.is_absolute())
      continue;
    out.push_back(
      {home.lexically_normal(), j["environment"].get<std::string>(), e.path()});
  }
  return out;
}

} // namespace pyro::vmm
