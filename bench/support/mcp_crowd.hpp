#pragma once

// Many MCP sessions over Streamable HTTP from one thread: every socket is
// non-blocking and one epoll loop moves all of them, each session on its
// own kept-alive connection. A thousand client threads on a two-core
// machine measured the scheduler's run queues more than the server; one
// thread keeps the client's share of the CPU small and still puts every
// request in flight at the same time.

#include <vector>

namespace pyro::bench {

struct crowd_options {
  int port = 0;
  int sessions = 1000;
};

struct crowd_result {
  /// One per answered ping: from the moment its request was written (or
  /// its connect, had the connection to be made again) to its parsed reply.
  std::vector<double> ping_us;
  int open_errors = 0;
  int ping_errors = 0;
  int list_errors = 0;
  int close_errors = 0;
  /// From the first ping written to the last: every ping is out before any
  /// reply is read.
  double send_ms = 0;
  /// From the first ping written to the last tools/list answered.
  double burst_ms = 0;

  [[nodiscard]] int errors() const {
    return open_errors + ping_errors + list_errors + close_errors;
  }
};

/// Opens `sessions` sessions (initialize, then notifications/initialized)
/// and waits for all of them; then writes every session's `ping` before
/// reading any reply, each session sending `tools/list` as soon as its pong
/// arrives. Finally DELETE ends every session.
crowd_result run_mcp_crowd(const crowd_options& options);

/// The reference for the crowd: one session's pings one after another,
/// through the same client on the same kind of connection. Empty if the
/// session could not be opened or a ping failed.
std::vector<double> lone_pings(int port, int warmup, int count);

} // namespace pyro::bench
