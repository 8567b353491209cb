#include "agent/readiness.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/confined_fs.hpp"
#include "agent/launch.hpp"
#include "agent/process_table.hpp"
#include "messages/wire/relative_path.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

constexpr int connect_timeout_ms = 1000;
constexpr int command_timeout_ms = 10000;

struct endpoint {
  std::string host;
  int port = 0;
};

// host:port or [v6]:port; the agent resolves no names but localhost.
result<endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return make_error(error_code::invalid_argument,
                      "'" + text + "' is not HOST:PORT");
  endpoint out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty() || out.host == "localhost")
    out.host = "127.0.0.1";
  try {
    size_t used = 0;
    out.port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1)
      out.port = 0;
  } catch (const std::exception&) {
    out.port = 0;
  }
  if (out.port < 1 || out.port > 65535)
    return make_error(error_code::invalid_argument,
                      "'" + text + "' has no valid port");
  in6_addr probe6{};
  in_addr probe4{};
  if (::inet_pton(AF_INET, out.host.c_str(), &probe4) != 1
      && ::inet_pton(AF_INET6, out.host.c_str(), &probe6) != 1)
    return make_error(error_code::invalid_argument,
                      "'" + out.host + "' must be an IP address or localhost");
  return out;
}

// A connected socket within the timeout, or -1.
int connect_to(const endpoint& ep) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, ep.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(ep.port));
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, ep.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(ep.port));
    len = sizeof(sockaddr_in6);
  } else {
    return -1;
  }
  int fd
    = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno != EINPROGRESS) {
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (::poll(&p, 1, connect_timeout_ms) != 1
        || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0
        || err != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

struct url_parts {
  endpoint ep;
  std::string path;
};

result<url_parts> parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    return make_error(error_code::invalid_argument,
                      "readiness URL '" + url + "' must start with http://");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url_parts out;
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find(':') == std::string::npos || authority.back() == ']')
    authority += ":80";
  auto ep = parse_endpoint(authority);
  if (!ep)
    return ep.err();
  out.ep = *ep;
  for (char c : out.path)
    if (c == '\r' || c == '\n' || c == ' ')
      return make_error(error_code::invalid_argument,
                        "readiness URL '" + url + "' has a bad path");
  return out;
}

bool http_ok(const std::string& url) {
  auto parts = parse_url(url);
  if (!parts)
    return false;
  int fd = connect_to(parts->ep);
  if (fd < 0)
    return false;
  auto request = "GET " + parts->path + " HTTP/1.0\r\nHost: " + parts->ep.host
                 + "\r\nConnection: close\r\n\r\n";
  bool ok = false;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL)
      == static_cast<ssize_t>(request.size())) {
    std::string head;
    char buf[256];
    while (head.size() < 12) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, connect_timeout_ms) != 1)
        break;
      auto got = ::recv(fd, buf, sizeof(buf), 0);
      if (got <= 0)
        break;
      head.append(buf, static_cast<size_t>(got));
    }
    // "HTTP/1.x NNN"
    if (head.size() >= 12 && head.rfind("HTTP/", 0) == 0) {
      auto code = head.substr(9, 3);
      ok = code[0] == '2' || code[0] == '3';
    }
  }
  ::close(fd);
  return ok;
}

bool file_exists(const agent_context& ctx, const std::string& path) {
  std::optional<std::vector<std::string>> parts;
  int dir = ctx.workspace_fd;
  if (!path.empty() && path[0] == '/') {
    parts = wire::split_relative(path.substr(1));
    dir = ctx.root_fd;
  } else {
    parts = wire::split_relative(path);
  }
  if (!parts)
    return false;
  auto fd = open_beneath(ctx, dir, *parts, O_PATH);
  if (!fd)
    return false;
  ::close(*fd);
  return true;
}

bool command_succeeds(const agent_context& ctx, const readiness_probe& p) {
  auto plan = plan_launch(ctx, json{{"command", p.target}, {"cwd", p.cwd}});
  if (!plan)
    return false;
  auto group = cgroup_tree::instance().make("probe");
  if (!group)
    return false;
  (*plan)->cgroup_procs = group->procs_fd();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto& table = process_table::instance();
  pid_t pid = table.fork_tracked();
  if (pid == 0) {
    ::setsid();
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    (*plan)->exec_child();
  }
  ::close(null_fd);
  if (pid < 0)
    return false;
  auto status
    = table.wait(pid, std::chrono::steady_clock::now()
                        + std::chrono::milliseconds{command_timeout_ms});
  ::kill(-pid, SIGKILL);
  group->kill();
  if (!status) {
    status = table.wait(pid, std::chrono::steady_clock::now()
                               + std::chrono::seconds{5});
    if (!status)
      table.forget(pid);
    return false;
  }
  return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

} // namespace

json readiness_probe::to_json() const {
  return json{{"type", type},
              {"target", target},
              {"timeout_seconds", timeout_seconds},
              {"interval_ms", interval_ms}};
}

result<readiness_probe> parse_readiness(const json& req) {
  readiness_probe p;
  p.cwd = req.value("cwd", std::string{"/workspace"});
  p.timeout_seconds = req.value("ready_timeout_seconds", 30.0);
  p.interval_ms = req.value("ready_interval_ms", 500);
  if (!(p.timeout_seconds > 0) || p.timeout_seconds > 3600)
    return make_error(error_code::invalid_argument,
                      "ready_timeout_seconds must be in (0, 3600]");
  if (p.interval_ms < 10 || p.interval_ms > 60000)
    return make_error(error_code::invalid_argument,
                      "ready_interval_ms must be between 10 and 60000");
  auto r = req.find("readiness");
  if (r == req.end() || r->is_null())
    return p;
  if (!r->is_object())
    return make_error(error_code::invalid_argument,
                      "readiness must be an object {type, ...}");
  p.type = r->value("type", std::string{});
  const char* field = p.type == "file"      ? "path"
                      : p.type == "tcp"     ? "address"
                      : p.type == "http"    ? "url"
                      : p.type == "command" ? "command"
                                            : nullptr;
  if (field == nullptr)
    return make_error(error_code::invalid_argument,
                      "readiness type '" + p.type
                        + "' is not one of file, tcp, http, command");
  auto target = r->find(field);
  if (target == r->end() || !target->is_string() || target->empty())
    return make_error(error_code::invalid_argument,
                      "a " + p.type + " readiness probe needs '" + field + "'");
  p.target = target->get<std::string>();
  if (p.type == "tcp") {
    if (auto ep = parse_endpoint(p.target); !ep)
      return ep.err();
  } else if (p.type == "http") {
    if (auto url = parse_url(p.target); !url)
      return url.err();
  }
  return p;
}

bool probe_once(const agent_context& ctx, const readiness_probe& p) {
  if (p.type == "file")
    return file_exists(ctx, p.target);
  if (p.type == "tcp") {
    auto ep = parse_endpoint(p.target);
    int fd = ep ? connect_to(*ep) : -1;
    if (fd >= 0)
      ::close(fd);
    return fd >= 0;
  }
  if (p.type == "http")
    return http_ok(p.target);
  if (p.type == "command")
    return command_succeeds(ctx, p);
  return true;
}

} // namespace pyro::agent
