#pragma once

// `pyro server run`: the resident runtime of one PYRO_HOME. It owns one
// actor system (one registry, one pool of parked sandboxes) and serves the
// contract's operations to local clients over a Unix socket in PYRO_HOME
// (mode 0600; a peer of another user is refused by SO_PEERCRED, root
// excepted). The protocol is the agent's framing (docs/protocol.md): the
// client sends one header frame `{"op", "args", "client"}`; the server
// answers with data frames (progress lines) and one header frame,
// `{"ok": true, "result"}` or `{"ok": false, "error"}`.

#include <chrono>
#include <filesystem>

namespace pyro::server {

struct server_options {
  std::filesystem::path home;
  /// Exit after this long with no request in flight; 0: never.
  std::chrono::seconds idle{600};
};

/// `PYRO_SERVER_IDLE_SECONDS`, else 600.
std::chrono::seconds idle_from_environment();

/// Runs until stopped (a `server_stop` request, SIGTERM or SIGINT) or idle;
/// returns the process exit status. Exits 0 at once when another server of
/// the same home holds the lock.
int run_server(const server_options& options);

} // namespace pyro::server
