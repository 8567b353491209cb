#pragma once

// `pyro mcp serve`: the transports. Both run until their input ends (stdio)
// or the process is told to stop (HTTP), and serve sessions through
// session actors (frontends/mcp/session.hpp).

#include <string>

#include "frontends/contract/contract.hpp"
#include "frontends/mcp/message_limits.hpp"
#include "frontends/mcp/server_core.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro::mcp {

struct http_options {
  std::string host = "127.0.0.1";
  int port = 8765;
  /// Required as `Authorization: Bearer ...` (PYRO_MCP_TOKEN). When empty,
  /// the server makes one up and writes it to a file only its user can
  /// read (PYRO_HOME/mcp/http-PORT.token), named on stderr.
  std::string bearer_token;
  /// Largest request body accepted.
  size_t max_body_bytes = max_message_bytes;
};

/// Newline-delimited JSON-RPC on stdin/stdout; logs go to stderr.
int serve_stdio(Pyro& sdk, const server_options& options);

/// Streamable HTTP on http://host:port/mcp.
int serve_http(Pyro& sdk, const server_options& options,
               const http_options& http);

/// With the operator's defaults: the process's working directory as the
/// stdio server's roots, the usual backend choice (the Python SDK's
/// `McpServer.run`).
int serve_stdio(Pyro& sdk, contract::profile profile);
int serve_http(Pyro& sdk, contract::profile profile, const http_options& http);

/// The stdio server's roots when neither the operator nor the client gives
/// any: the directory it was started in.
host_roots working_directory_roots();

} // namespace pyro::mcp
