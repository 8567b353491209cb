#pragma once

// The MCP protocol itself, independent of transport and threads: JSON-RPC
// 2.0 framing rules, version negotiation, tools/list from the contract
// table, validation of tools/call, and (tool_call.cpp) running a call
// through the SDK's dispatch. Safe to use from several threads at once (a
// session's state is set only by initialize, logging/setLevel and the
// client's roots messages, which transports deliver in order).
//
// The server never widens its own authority: the backend, host-compat and
// the host roots are the operator's (server_options), and no tool argument
// can change them.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "frontends/mcp/client_roots.hpp"
#include "frontends/mcp/host_roots.hpp"

namespace pyro {
class Pyro;
} // namespace pyro

namespace pyro::mcp {

/// Protocol versions this server speaks, newest first.
extern const char* const supported_versions[3];

/// Sends one JSON text to the client (a notification, or a request such as
/// roots/list).
using emit_fn = std::function<void(const std::string&)>;

/// What the operator decided when starting the server (`pyro mcp serve`
/// flags); never a tool argument.
struct server_options {
  contract::profile profile = contract::workspace_full_profile;
  /// --backend; empty leaves the choice to PYRO_BACKEND, else auto.
  std::string backend;
  /// --allow-host-compat.
  bool allow_host_compat = false;
  /// --host-root, resolved. When empty, the client's roots apply.
  std::vector<std::string> operator_roots;
  /// When neither: the stdio server's working directory; none over HTTP.
  host_roots fallback_roots{{}, "the HTTP transport has no default"};
};

class server_core {
public:
  /// `sdk` may be null where no tool is ever called (tests, fuzzers).
  server_core(Pyro* sdk, server_options options);

  /// What to do with one incoming message.
  struct outcome {
    enum { reply, none, tool_call } action = none;
    /// The reply when `action == reply`...
    nlohmann::json message;
    /// ...or, when not empty, its text (large constant replies are kept
    /// serialised).
    std::string text;
  };

  /// Everything but tools/call is answered here at once; a tools/call that
  /// passes validation comes back as `tool_call`, for `call_tool`. Answers
  /// to requests the server sent (roots/list) are taken here too.
  outcome handle(const nlohmann::json& message);

  /// Runs a validated tools/call (blocking). Progress notifications and
  /// requests to the client go to `emit`; `can_ask` says whether the
  /// client can answer a request sent there before this call ends (stdio,
  /// or an HTTP call answered as an event stream).
  nlohmann::json call_tool(const nlohmann::json& request, const emit_fn& emit,
                           bool can_ask, const std::string& cancel_tag = {});

  /// Ends what a cancelled call started in a sandbox (an exec's command),
  /// blocking; calls that started nothing there need nothing.
  void cancel_call(const nlohmann::json& request,
                   const std::string& cancel_tag);

  /// The parse-error reply for text that is not JSON.
  static nlohmann::json parse_error(const std::string& why);

  /// The reply to `message` when handling it threw `what`.
  static nlohmann::json internal_error(const nlohmann::json& message,
                                       const std::string& what);

  [[nodiscard]] std::string protocol_version() const;

  [[nodiscard]] const server_options& options() const {
    return options_;
  }

private:
  nlohmann::json initialize(const nlohmann::json& id,
                            const nlohmann::json& params);
  nlohmann::json validate_call(const nlohmann::json& request);

  /// The roots for a call naming a host path.
  host_roots roots_for_call(const emit_fn& emit, bool can_ask);

  Pyro* sdk_;
  server_options options_;
  client_roots client_roots_;
  mutable std::mutex mtx_;
  std::string version_;
  std::string log_level_ = "info";
};

/// A JSON-RPC error reply.
nlohmann::json rpc_error(const nlohmann::json& id, int code,
                         const std::string& message,
                         const nlohmann::json& data = nullptr);

} // namespace pyro::mcp
