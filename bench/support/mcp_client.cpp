#include "bench/support/mcp_client.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::bench {

using nlohmann::json;

mcp_session::mcp_session(int port) : http_("127.0.0.1", port) {
  http_.set_keep_alive(false);
  http_.set_read_timeout(300, 0);
  http_.set_connection_timeout(30, 0);
}

bool mcp_session::open() {
  auto r = request(
    "initialize", {{"protocolVersion", "2025-11-25"},
                   {"capabilities", json::object()},
                   {"clientInfo", {{"name", "pyro-bench"}, {"version", "1"}}}});
  return r.is_object() && r.contains("result");
}

std::string mcp_session::request_text(const std::string& method, json params) {
  json msg{{"jsonrpc", "2.0"},
           {"id", ++id_},
           {"method", method},
           {"params", std::move(params)}};
  httplib::Headers headers{{"Accept", "application/json"},
                           {"Authorization", "Bearer " + mcp_token()}};
  if (!session_id_.empty())
    headers.emplace("Mcp-Session-Id", session_id_);
  auto res = http_.Post("/mcp", headers, msg.dump(), "application/json");
  if (!res || res->status != 200)
    return {};
  if (res->has_header("Mcp-Session-Id"))
    session_id_ = res->get_header_value("Mcp-Session-Id");
  return res->body;
}

json mcp_session::request(const std::string& method, json params) {
  auto text = request_text(method, std::move(params));
  return text.empty() ? json() : json::parse(text, nullptr, false);
}

json mcp_session::tool(const std::string& name, json args) {
  auto r
    = request("tools/call", {{"name", name}, {"arguments", std::move(args)}});
  if (!r.is_object() || !r.contains("result")
      || r["result"].value("isError", true))
    return nullptr;
  return r["result"]["structuredContent"];
}

void mcp_session::close() {
  http_.Delete("/mcp",
               httplib::Headers{{"Mcp-Session-Id", session_id_},
                                {"Authorization", "Bearer " + mcp_token()}});
}

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

} // namespace

const std::string& mcp_token() {
  static const std::string token = [] {
    std::random_device rd;
    std::string t;
    for (int i = 0; i < 4; ++i)
      t += std::to_string(rd());
    return t;
  }();
  return token;
}

std::pair<pid_t, int> start_mcp_server() {
  auto pyro
    = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "pyro";
  int port = free_port();
  const auto& token = mcp_token(); // made before the fork: both sides agree
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("PYRO_MCP_TOKEN", token.c_str(), 1);
    auto p = std::to_string(port);
    ::execl(pyro.c_str(), "pyro", "mcp", "serve", "--transport", "http",
            "--port", p.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    httplib::Client probe{"127.0.0.1", port};
    if (probe.Get("/mcp"))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{25});
  }
  return {pid, port};
}

void stop_mcp_server(pid_t pid) {
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

} // namespace pyro::bench
