#pragma once

// The roots an MCP client lists (`roots/list`, a request the server sends
// to the client): the folders the user opened, which the server's tool
// calls may then use on the host when the operator gave no `--host-root`.
// Asked for on the first call that names a host path, cached until the
// client sends `notifications/roots/list_changed`. The asking call blocks
// (it runs on a worker of its own) until the client answers through the
// session, or gives up after a timeout.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "frontends/mcp/host_roots.hpp"

namespace pyro::mcp {

class client_roots {
public:
  /// Sends one message (JSON text) to the client.
  using send_fn = std::function<void(const std::string&)>;

  /// Records whether the client declared the `roots` capability.
  void set_supported(bool supported);

  /// Forgets the cached list: the next call asks again.
  void invalidate();

  /// Takes the client's answer to a `roots/list` this object sent; false
  /// when `msg` answers something else.
  bool on_response(const nlohmann::json& msg);

  /// The client's roots, or nullopt when it declared no `roots` capability.
  /// Asks through `send` when the list is not cached and `can_ask` (the
  /// channel reaches the client), waiting at most `timeout`.
  std::optional<host_roots> get(const send_fn& send, bool can_ask,
                                std::chrono::milliseconds timeout);

private:
  std::mutex mtx_;
  std::condition_variable answered_;
  bool supported_ = false;
  bool known_ = false;
  host_roots cached_;
  /// The id of the roots/list in flight, or "".
  std::string pending_;
  /// The list changed while a request was in flight: its answer serves the
  /// calls waiting for it, but is not kept.
  bool stale_ = false;
  uint64_t asked_ = 0;
  uint64_t answers_ = 0;
};

} // namespace pyro::mcp
