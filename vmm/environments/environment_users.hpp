#pragma once

// Which PYRO_HOMEs use the environment cache. Several homes (people, test
// runs, CI jobs) may share one cache, and `env prune` run from one of them
// must not remove what another still uses; yet a home's workspaces are
// only known to that home. So each home that uses an environment says so
// in the cache, with a marker naming the home:
//
//     <cache>/.users/<hash of home>-<install dir>.json
//         {"pyro_home": "/abs/home", "environment": "busybox"}
//
// written atomically before a workspace (or a parked sandbox) on the
// environment is made or started. Prune reads them all, and asks each home
// that still exists whether a workspace there still names the environment.
//
// Between looking at the install and writing a record that names it, a
// create holds the environment's use lock (`<cache>/.locks/<dir>.use`,
// shared); prune removes an install only while holding it exclusively, so
// it never removes one under a create that has not written its record yet.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "messages/sys/unique_fd.hpp"

namespace pyro::vmm {

/// A flock on an environment's use lock file, released when destroyed.
class environment_lock {
public:
  environment_lock() = default;

  /// Shared: a workspace or parked sandbox on the environment is being made
  /// or started. Waits while a prune removes the install.
  static environment_lock shared(std::string_view environment);

  /// Exclusive, for prune while it removes the install; tries once.
  static environment_lock exclusive(std::string_view environment);

  /// False when the lock file could not be opened or, for `exclusive`,
  /// someone is using the environment.
  [[nodiscard]] bool held() const noexcept {
    return fd_.get() >= 0;
  }

private:
  sys::unique_fd fd_;
};

/// Writes `home`'s marker for `environment` (atomically; not again when it
/// is there), then takes the shared use lock. Never fails: a cache this
/// process cannot write is one it cannot prune either, so the use goes
/// unrecorded and the caller goes on (a missing install fails it later).
environment_lock use_environment(const std::filesystem::path& home,
                                 std::string_view environment);

/// A marker found in the cache.
struct environment_user {
  /// As written: see marker_home.
  std::filesystem::path home;
  std::string environment;
  std::filesystem::path marker;
};

/// Every readable marker in the cache; others are left alone, since nobody
/// can tell whose they are.
std::vector<environment_user> environment_users();

/// A home as markers name it: absolute and normalised, symlinks resolved
/// where the path exists.
std::filesystem::path marker_home(const std::filesystem::path& home);

} // namespace pyro::vmm
