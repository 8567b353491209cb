#pragma once

// `pyro mcp serve`: the transports. Both run until their input ends (stdio)
// or the process is told to stop (HTTP), and serve sessions through
// session actors (frontends/mcp/session.hpp).

#include <string>

#include "frontends/contract/contract.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro::mcp {

struct http_options {
  std::string host = "127.0.0.1";
  int port = 8765;
  /// Required as `Authorization: Bearer ...` when set (PYRO_MCP_TOKEN).
  std::string bearer_token;
  /// Largest request body accepted.
  size_t max_body_bytes = 4u << 20;
};

/// Newline-delimited JSON-RPC on stdin/stdout; logs go to stderr.
int serve_stdio(Pyro& sdk, contract::profile profile);

/// Streamable HTTP on http://host:port/mcp.
int serve_http(Pyro& sdk, contract::profile profile,
               const http_options& options);

} // namespace pyro::mcp
