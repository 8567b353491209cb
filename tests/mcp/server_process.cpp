#include "server_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::test {

using nlohmann::json;

mcp_server::mcp_server(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env,
                       const std::filesystem::path& cwd) {
  // A server that died must fail the test, not kill it with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0
      || ::pipe2(err, O_CLOEXEC) != 0)
    return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
      ::_exit(126);
    ::unsetenv("PYRO_MCP_TOKEN");
    for (const auto& [key, value] : env)
      ::setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(PYRO_BIN)};
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
}

mcp_server::~mcp_server() {
  if (in_ >= 0)
    ::close(in_);
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0)
    ::close(out_);
  if (err_ >= 0)
    ::close(err_);
}

void mcp_server::send(std::string_view line) {
  std::string text{line};
  text += '\n';
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(in_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

std::optional<std::string>
mcp_server::read_line(int fd, std::string& buf,
                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (fd < 0)
    return std::nullopt;
  for (;;) {
    auto nl = buf.find('\n');
    if (nl != std::string::npos) {
      auto line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    char chunk[65536];
    auto n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0)
      return std::nullopt;
    buf.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<std::string>
mcp_server::next_line(std::chrono::milliseconds timeout) {
  return read_line(out_, out_buf_, timeout);
}

json mcp_server::request(const json& msg) {
  send(msg.dump());
  while (auto line = next_line()) {
    auto reply = json::parse(*line, nullptr, false);
    if (reply.is_object() && reply.value("id", json()) == msg["id"]
        && !reply.contains("method"))
      return reply;
  }
  return nullptr;
}

std::string mcp_server::stderr_line(std::string_view needle,
                                    std::chrono::milliseconds timeout) {
  for (const auto& line : err_lines_)
    if (line.find(needle) != std::string::npos)
      return line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto line = read_line(err_, err_buf_,
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now()));
    if (!line)
      return {};
    err_lines_.push_back(*line);
    if (line->find(needle) != std::string::npos)
      return *line;
  }
  return {};
}

int mcp_server::http_port() {
  auto line = stderr_line("serving http://");
  auto colon = line.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

bool mcp_server::running() {
  if (status_ >= 0)
    return false;
  int wstatus = 0;
  if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    status_ = wstatus;
    return false;
  }
  return true;
}

int mcp_server::finish() {
  if (in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
  if (status_ < 0)
    ::waitpid(pid_, &status_, 0);
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

json rpc(int id, const std::string& method, json params) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"method", method},
          {"params", std::move(params)}};
}

json initialize_request(int id, json capabilities) {
  return rpc(id, "initialize",
             {{"protocolVersion", "2025-11-25"},
              {"capabilities", std::move(capabilities)},
              {"clientInfo", {{"name", "pyro-test"}, {"version", "0"}}}});
}

std::string http_reply::header(std::string_view name) const {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    auto start = pos + 2;
    auto end = head.find("\r\n", start);
    auto line = head.substr(start, end - start);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string key = line.substr(0, colon);
      for (auto& c : key)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key == name) {
        auto value = line.substr(colon + 1);
        return value.substr(value.find_first_not_of(' '));
      }
    }
    pos = end;
  }
  return {};
}

http_reply http_exchange(int port, const std::string& raw) {
  http_reply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return reply;
  }
  size_t done = 0;
  while (done < raw.size()) {
    auto n = ::send(fd, raw.data() + done, raw.size() - done, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    done += static_cast<size_t>(n);
  }
  std::string text;
  char chunk[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0)
      break;
    auto n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0)
      break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  auto end = text.find("\r\n\r\n");
  if (end == std::string::npos || text.size() < 12)
    return reply;
  reply.head = text.substr(0, end);
  reply.body = text.substr(end + 4);
  reply.status = std::atoi(text.c_str() + 9);
  return reply;
}

std::string http_post(const std::string& headers, const std::string& body) {
  return "POST /mcp HTTP/1.1\r\n" + headers
         + "Content-Type: application/json\r\n"
           "Accept: application/json\r\n"
           "Connection: close\r\n"
           "Content-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

} // namespace pyro::test
