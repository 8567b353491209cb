#pragma once

// A minimal MCP client over Streamable HTTP for the benchmarks: one
// session, a new connection per request, JSON replies only; blocking, so
// one thread per session (bench/support/mcp_crowd.hpp drives a crowd of
// sessions from one thread).

#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace pyro::bench {

class mcp_session {
public:
  explicit mcp_session(int port);

  /// initialize; false if the server did not answer.
  bool open();

  /// The raw reply body, or "" on a transport failure.
  std::string request_text(const std::string& method,
                           nlohmann::json params = nlohmann::json::object());

  /// The parsed reply, or null.
  nlohmann::json request(const std::string& method,
                         nlohmann::json params = nlohmann::json::object());

  /// A tool's structured result, or null on any failure.
  nlohmann::json tool(const std::string& name, nlohmann::json args);

  /// DELETE /mcp: ends the session on the server.
  void close();

private:
  httplib::Client http_;
  int id_ = 0;
  std::string session_id_;
};

/// The bearer token the benchmark's servers are started with
/// (PYRO_MCP_TOKEN) and its clients send: the server requires one.
const std::string& mcp_token();

/// Starts `pyro mcp serve --transport http` on a free port (the pyro binary
/// beside this executable) with mcp_token(); returns its pid and port once
/// it answers.
std::pair<pid_t, int> start_mcp_server();

/// SIGTERM and wait.
void stop_mcp_server(pid_t pid);

} // namespace pyro::bench
