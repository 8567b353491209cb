// Network policies of the sandbox backend, through the real CLI: off means
// loopback only, egress reaches the host's external address (never its
// loopback), and published ports answer on 127.0.0.1 only while their
// service runs.

#include <chrono>
#include <csignal>
#include <thread>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "sandbox_fixture.hpp"

using namespace std::chrono_literals;

namespace {

std::string external_ipv4() {
  ifaddrs* list = nullptr;
  REQUIRE(::getifaddrs(&list) == 0);
  std::string found;
  for (auto* i = list; i != nullptr && found.empty(); i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET
        && !(i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP)) {
      char text[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET,
                  &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text,
                  sizeof(text));
      found = text;
    }
  ::freeifaddrs(list);
  REQUIRE_FALSE(found.empty());
  return found;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// python3's http.server on all addresses, serving a directory.
struct host_http_server {
  pyro::test::temp_dir root;
  int port = free_port();
  pid_t pid = -1;

  host_http_server() {
    std::ofstream{root.path() / "probe.txt"} << "hello from the host\n";
    pid = ::fork();
    if (pid == 0) {
      auto p = std::to_string(port);
      ::execlp("python3", "python3", "-m", "http.server", "--bind", "0.0.0.0",
               "--directory", root.path().c_str(), p.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bool up
        = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      ::close(fd);
      if (up)
        return;
      std::this_thread::sleep_for(25ms);
    }
    FAIL("the host's HTTP server did not come up");
  }

  ~host_http_server() {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
};

// GET http://127.0.0.1:port/ from the host; the first line, or "".
std::string host_get(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET /index.html HTTP/1.0\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

} // namespace

TEST_CASE_METHOD(pyro::test::sandbox_fixture,
                 "off blocks a probe to the host that egress lets through") {
  host_http_server server;
  auto url = external_ipv4() + " " + std::to_string(server.port);
  // Raw HTTP over busybox nc (its static wget cannot resolve anything);
  // the shell reports nc's fate, whether it fails or crashes.
  auto probe = [](const std::string& host_port) {
    return "printf 'GET /probe.txt HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " + host_port
           + " > page 2>/dev/null; grep -q hello page && tail -n 1 page "
             "|| echo failed";
  };
  auto closed = create();
  CHECK(out(closed, probe(url)) == "failed\n");
  auto open = create({"--network-policy", "egress"});
  CHECK(out(open, probe(url)) == "hello from the host\n");
  // The host's own loopback is not part of egress.
  CHECK(out(open, probe("10.0.2.2 " + std::to_string(server.port)))
        == "failed\n");
  auto net = pyro_json({"workspace", "status", open});
  CHECK(net["network_policy"] == "egress");
}

TEST_CASE_METHOD(pyro::test::sandbox_fixture,
                 "a published port answers on 127.0.0.1 until its service "
                 "stops") {
  auto ws = create({"--network-policy", "egress+published-ports"});
  out(ws, "mkdir -p www && echo published-page > www/index.html");
  auto host_port = free_port();
  auto started
    = pyro_json({"workspace", "service", "start", ws, "web", "--publish",
                 std::to_string(host_port) + ":8080", "--ready-http",
                 "http://127.0.0.1:8080/index.html", "--",
                 "exec httpd -f -p 0.0.0.0:8080 -h /workspace/www"});
  REQUIRE(started["state"] == "ready");
  REQUIRE(started["published_ports"].size() == 1);
  CHECK(started["published_ports"][0]["host_address"] == "127.0.0.1");
  std::string page;
  for (int i = 0; i < 50 && page.find("published-page") == std::string::npos;
       ++i) {
    page = host_get(host_port);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(page.find("published-page") != std::string::npos);
  pyro_json({"workspace", "service", "stop", ws, "web"});
  CHECK(host_get(host_port).empty());
  SECTION("publishing needs the policy that allows it") {
    auto plain = create({"--network-policy", "egress"});
    auto refused = pyro({"workspace", "service", "start", plain, "web",
                         "--publish", "18080:8080", "--", "sleep 60"});
    CHECK(refused.exit_code == 5); // failed_precondition
    CHECK(refused.err.find("egress+published-ports") != std::string::npos);
  }
  SECTION("delete takes the forwards with it") {
    pyro_json({"workspace", "service", "start", ws, "web2", "--publish",
               std::to_string(host_port) + ":8080", "--",
               "exec httpd -f -p 0.0.0.0:8080 -h /workspace/www"});
    pyro_json({"workspace", "delete", ws});
    CHECK(host_get(host_port).empty());
  }
}
