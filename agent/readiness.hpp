#pragma once

// Readiness probes for services: a file that appears, a TCP port that
// accepts, an HTTP URL that answers 2xx/3xx, or a command that exits 0.

#include <string>

#include <nlohmann/json.hpp>

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

struct readiness_probe {
  /// none, file, tcp, http or command.
  std::string type = "none";
  /// The path, host:port, URL or shell command.
  std::string target;
  /// Working directory (guest path) of a command probe.
  std::string cwd = "/workspace";
  double timeout_seconds = 30;
  int interval_ms = 500;

  [[nodiscard]] nlohmann::json to_json() const;
};

/// Reads `readiness` ({type, path|address|url|command}),
/// `ready_timeout_seconds` and `ready_interval_ms` from a request.
result<readiness_probe> parse_readiness(const nlohmann::json& req);

/// One attempt; true when the service is ready.
bool probe_once(const agent_context& ctx, const readiness_probe& probe);

} // namespace pyro::agent
