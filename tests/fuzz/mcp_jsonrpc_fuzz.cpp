// libFuzzer target for the MCP JSON-RPC layer as a client reaches it:
// the raw message bounded and parsed (message_limits), then handled by
// the protocol core of each profile (framing, initialize, validation of
// tools/call against the schemas), and taken as a client's answer to
// roots/list. No runtime: what passes validation stops before dispatch.
// Built with clang by run_mcp_fuzz and run for a bounded time by the test
// suite.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "frontends/mcp/client_roots.hpp"
#include "frontends/mcp/message_limits.hpp"
#include "frontends/mcp/server_core.hpp"

using namespace pyro;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  auto parsed = mcp::parse_message(text);
  if (!parsed.ok()) {
    if (!parsed.error.is_object() || !parsed.error.contains("error"))
      __builtin_trap();
    return 0;
  }
  for (auto profile :
       {contract::vm_run_profile, contract::workspace_core_profile,
        contract::workspace_full_profile}) {
    mcp::server_options options;
    options.profile = profile;
    mcp::server_core core{nullptr, options};
    auto out = core.handle(parsed.message);
    if (out.action == mcp::server_core::outcome::reply) {
      // Every reply serialises, with the id it answers or null.
      auto text_out = out.text.empty() ? out.message.dump() : out.text;
      if (text_out.empty())
        __builtin_trap();
    }
  }
  // The same message as a client's answer to a roots/list in flight.
  if (parsed.message.is_object()) {
    mcp::client_roots roots;
    roots.set_supported(true);
    auto answer = parsed.message;
    auto got = roots.get(
      [&](const std::string& request) {
        answer["id"] = json::parse(request)["id"];
        roots.on_response(answer);
      },
      true, std::chrono::milliseconds{0});
    if (!got)
      __builtin_trap();
  }
  return 0;
}
