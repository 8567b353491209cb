#pragma once

// One MCP session is one actor. Its transport sends it incoming messages
// as text together with the sink the session answers through (stdout for
// stdio, the POST's reply for HTTP): every message over stdio; over HTTP
// only tool calls and cancellations, the transport answering the rest from
// the session's core itself. Requests are handled in order; a tools/call is
// handed to a detached worker actor of its own, so a slow call never holds up
// the session's pings, its other calls, or any other session.
// notifications/cancelled ends the worker's request: its reply is dropped and
// the worker is told to exit.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

#include "frontends/mcp/server_core.hpp"

namespace pyro::mcp {

/// Spawns a session over `core` (which outlives it).
caf::actor spawn_session(caf::actor_system& sys,
                         std::shared_ptr<server_core> core);

/// Whether a text the session emitted is a reply rather than a
/// notification or a request to the client, without parsing it: the session
/// writes replies and notifications with sorted keys, so a reply starts
/// with {"error" or {"id" and a notification, which has neither, with
/// {"jsonrpc"; requests (roots/list) are written with "jsonrpc" first.
[[nodiscard]] inline bool is_reply_text(std::string_view text) {
  return text.rfind("{\"error\"", 0) == 0 || text.rfind("{\"id\"", 0) == 0;
}

/// Sends one message to a session; replies, notifications and requests to
/// the client go to `out`, each as one JSON text. `can_ask`: whether a
/// request sent to `out` reaches a client that can answer it (stdio; HTTP
/// only when the reply is an event stream).
void post_to_session(const caf::actor& session, std::string text,
                     std::function<void(const std::string&)> out, bool can_ask);

} // namespace pyro::mcp
