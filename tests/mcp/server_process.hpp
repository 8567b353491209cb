#pragma once

// `pyro mcp serve` as a child process the tests talk to: JSON-RPC lines on
// its stdin and stdout (stdio), its stderr read for what it says (the HTTP
// port, the token file), and raw HTTP exchanges over fresh connections, so
// that tests can send what no client library would (two Host headers, a
// 150,000-deep body).

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <sys/types.h>

namespace pyro::test {

class mcp_server {
public:
  /// Starts PYRO_BIN with `args` in `cwd`, the environment plus `env`
  /// (PYRO_MCP_TOKEN removed unless `env` sets it).
  mcp_server(const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env,
             const std::filesystem::path& cwd);
  ~mcp_server();

  mcp_server(const mcp_server&) = delete;
  mcp_server& operator=(const mcp_server&) = delete;

  /// Writes one line (a newline is added) to stdin.
  void send(std::string_view line);

  /// The next line of stdout, or nullopt at its end or after `timeout`.
  std::optional<std::string> next_line(std::chrono::milliseconds timeout
                                       = std::chrono::seconds{60});

  /// Sends `msg` and returns the reply carrying its id (notifications and
  /// other replies on the way are skipped); null when none comes.
  nlohmann::json request(const nlohmann::json& msg);

  /// The first line of stderr (read so far, or until `timeout`) that
  /// contains `needle`, or "".
  std::string stderr_line(std::string_view needle,
                          std::chrono::milliseconds timeout
                          = std::chrono::seconds{30});

  /// The port an HTTP server says it serves on (from stderr).
  int http_port();

  /// Whether the process still runs.
  [[nodiscard]] bool running();

  /// Closes stdin and waits for the exit status.
  int finish();

private:
  std::optional<std::string> read_line(int fd, std::string& buf,
                                       std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string out_buf_;
  std::string err_buf_;
  std::vector<std::string> err_lines_;
  int status_ = -1;
};

/// A JSON-RPC request object.
nlohmann::json rpc(int id, const std::string& method,
                   nlohmann::json params = nlohmann::json::object());

/// The initialize request, with `capabilities`.
nlohmann::json initialize_request(int id, nlohmann::json capabilities
                                          = nlohmann::json::object());

struct http_reply {
  int status = 0;
  /// Status line and headers, as received.
  std::string head;
  std::string body;

  /// A header's value ("" when absent); `name` in lower case.
  [[nodiscard]] std::string header(std::string_view name) const;
};

/// Sends `raw` (a whole request, which should ask `Connection: close`)
/// over a new connection to 127.0.0.1:`port` and reads the reply to the
/// end.
http_reply http_exchange(int port, const std::string& raw);

/// A POST /mcp with `headers` (whole lines, each ending in \r\n) and
/// `body`, asking the server to close the connection after it.
std::string http_post(const std::string& headers, const std::string& body);

} // namespace pyro::test
