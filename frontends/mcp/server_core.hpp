#pragma once

// The MCP protocol itself, independent of transport and threads: JSON-RPC
// 2.0 framing rules, version negotiation, tools/list from the contract
// table, and tools/call through the SDK's dispatch. Safe to use from
// several threads at once (a session's state is set only by initialize
// and logging/setLevel, which transports deliver in order).

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro::mcp {

/// Protocol versions this server speaks, newest first.
extern const char* const supported_versions[3];

using send_fn = std::function<void(const nlohmann::json&)>;

class server_core {
public:
  server_core(Pyro& sdk, contract::profile profile);

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
  /// passes validation comes back as `tool_call`, for `call_tool`.
  outcome handle(const nlohmann::json& message);

  /// Runs a validated tools/call (blocking); progress notifications go to
  /// `notify` when the caller sent a progress token.
  nlohmann::json call_tool(const nlohmann::json& request, const send_fn& notify,
                           const std::string& cancel_tag = {});

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

private:
  nlohmann::json initialize(const nlohmann::json& id,
                            const nlohmann::json& params);
  nlohmann::json validate_call(const nlohmann::json& request);

  Pyro& sdk_;
  contract::profile profile_;
  mutable std::mutex mtx_;
  std::string version_;
  std::string log_level_ = "info";
};

/// A JSON-RPC error reply.
nlohmann::json rpc_error(const nlohmann::json& id, int code,
                         const std::string& message,
                         const nlohmann::json& data = nullptr);

} // namespace pyro::mcp
