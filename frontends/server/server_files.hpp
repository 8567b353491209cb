#pragma once

// Where a PYRO_HOME's resident runtime lives: one per home, found by its
// socket, serialised by its lock (held for the server's whole life, so two
// racing starters end with one server).

#include <filesystem>

namespace pyro::server {

inline std::filesystem::path socket_path(const std::filesystem::path& home) {
  return home / "server.sock";
}

inline std::filesystem::path lock_path(const std::filesystem::path& home) {
  return home / "server.lock";
}

/// Starters take turns on this, so that racing first calls start one
/// server between them.
inline std::filesystem::path starting_path(const std::filesystem::path& home) {
  return home / "server.starting";
}

inline std::filesystem::path log_path(const std::filesystem::path& home) {
  return home / "server.log";
}

} // namespace pyro::server
