// Network policies of the sandbox backend, through the real CLI run inside
// a test network (test_network.hpp), so no traffic leaves the machine: off
// means loopback only; egress reaches the outside but not the host's own
// addresses nor the link unless the operator allows it; published ports
// answer on the host's 127.0.0.1 only while their service runs, and on a
// port below 1024 only with the operator's consent.

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "sandbox_fixture.hpp"
#include "test_network.hpp"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int probe_port = 8000;

// What `nc` printed in the sandbox: the responder's line, or why not.
std::string probe_command(const std::string& address) {
  return "nc -w 3 " + address + " " + std::to_string(probe_port)
         + " </dev/null 2>&1 || true";
}

bool refused(const std::string& nc_output) {
  return nc_output.find("Connection refused") != std::string::npos;
}

// GET http://127.0.0.1:port/ in the test network's host; the reply, or
// "" when nothing listens.
std::string host_get(const std::string& ns, int port) {
  return pyro::test::in_netns(ns, [port] {
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
  });
}

// Whether anything accepts connections on 127.0.0.1:port there.
bool host_port_open(const std::string& ns, int port) {
  return pyro::test::in_netns(ns, [port] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool open
      = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return open;
  });
}

// Processes whose command line mentions `text` (the port watchers).
int processes_mentioning(const std::string& text) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    std::ifstream in{entry.path() / "cmdline"};
    std::string cmdline{std::istreambuf_iterator<char>{in},
                        std::istreambuf_iterator<char>{}};
    if (cmdline.find(text) != std::string::npos
        && cmdline.find("watch-ports") != std::string::npos)
      ++count;
  }
  return count;
}

// The sandbox fixture with pyro run inside the test network's host, and
// the operator's variables unset unless a test sets them.
struct network_fixture : pyro::test::sandbox_fixture {
  pyro::test::test_network net;

  pyro::test::process_output
  on_host(std::vector<std::string> args,
          const std::map<std::string, std::string>& operator_env = {}) const {
    std::map<std::string, std::string> env{
      {"PYRO_HOME", home.path().string()},
      {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()},
      {"PYRO_BACKEND", ""},
      {"PYRO_EGRESS_ALLOW_HOST", ""},
      {"PYRO_EGRESS_ALLOW_LINK_LOCAL", ""},
      {"PYRO_PUBLISH_ALLOW_PRIVILEGED", ""}};
    for (const auto& [k, v] : operator_env)
      env[k] = v;
    args.insert(args.begin(),
                {"/usr/bin/nsenter", "--net=" + net.host(), PYRO_BIN});
    return pyro::test::run_process(args, env);
  }

  json on_host_json(std::vector<std::string> args,
                    const std::map<std::string, std::string>& env = {}) const {
    args.insert(std::find(args.begin(), args.end(), "--"), "--json");
    auto r = on_host(args, env);
    INFO("pyro " << args[0] << " ...\nstdout: " << r.out
                 << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }

  std::string create_on_host(const std::string& policy,
                             const std::map<std::string, std::string>& env
                             = {}) const {
    auto j = on_host_json(
      {"workspace", "create", "busybox", "--network-policy", policy}, env);
    REQUIRE(j["backend"] == "sandbox");
    return j["workspace_id"].get<std::string>();
  }

  std::string sandbox_log(const std::string& id) const {
    std::ifstream in{workspace_dir(id) / "runtime" / "sandbox.log"};
    return {std::istreambuf_iterator<char>{in},
            std::istreambuf_iterator<char>{}};
  }
};

} // namespace

TEST_CASE_METHOD(network_fixture,
                 "network: egress reaches the outside, not the host's own "
                 "addresses nor the link") {
  pyro::test::tcp_responder host_service{net.host(), probe_port,
                                         "hello from the host\n"};
  pyro::test::tcp_responder outside_service{net.outside(), probe_port,
                                            "hello from outside\n"};
  auto open = create_on_host("egress");
  // The outside: its own address and one behind it.
  CHECK(out(open, probe_command("198.51.100.2")) == "hello from outside\n");
  CHECK(out(open, probe_command("203.0.113.10")) == "hello from outside\n");
  // The host's address on the interface towards the outside, on a second
  // interface, and the metadata service on the link: refused outright.
  for (const char* address :
       {"198.51.100.1", "100.64.7.1", "169.254.169.254"}) {
    INFO(address);
    auto got = out(open, probe_command(address));
    CHECK(refused(got));
    CHECK(got.find("hello") == std::string::npos);
  }
  // The host's loopback through the gateway alias stays out of reach.
  CHECK(out(open, probe_command("10.0.2.2")).find("hello")
        == std::string::npos);
  auto log = sandbox_log(open);
  CHECK(log.find("refused connect to 198.51.100.1:8000") != std::string::npos);
  CHECK(log.find("PYRO_EGRESS_ALLOW_HOST=1") != std::string::npos);
  CHECK(log.find("PYRO_EGRESS_ALLOW_LINK_LOCAL=1") != std::string::npos);
  CHECK(pyro_json({"workspace", "status", open})["network_policy"] == "egress");
  SECTION("off reaches nothing at all") {
    auto closed = create_on_host("off");
    CHECK(out(closed, probe_command("198.51.100.2")).find("hello")
          == std::string::npos);
  }
}

TEST_CASE_METHOD(network_fixture,
                 "network: the operator's variables open the host and the "
                 "link to egress, one at a time") {
  pyro::test::tcp_responder host_service{net.host(), probe_port,
                                         "hello from the host\n"};
  pyro::test::tcp_responder outside_service{net.outside(), probe_port,
                                            "hello from outside\n"};
  auto host_ok = create_on_host("egress", {{"PYRO_EGRESS_ALLOW_HOST", "1"}});
  CHECK(out(host_ok, probe_command("198.51.100.1")) == "hello from the host\n");
  CHECK(out(host_ok, probe_command("100.64.7.1")) == "hello from the host\n");
  CHECK(refused(out(host_ok, probe_command("169.254.169.254"))));
  CHECK(out(host_ok, probe_command("203.0.113.10")) == "hello from outside\n");
  auto link_ok
    = create_on_host("egress", {{"PYRO_EGRESS_ALLOW_LINK_LOCAL", "1"}});
  CHECK(out(link_ok, probe_command("169.254.169.254"))
        == "hello from outside\n");
  CHECK(refused(out(link_ok, probe_command("198.51.100.1"))));
  // Only "1" counts: a value that merely looks like yes allows nothing.
  auto not_quite
    = create_on_host("egress", {{"PYRO_EGRESS_ALLOW_HOST", "yes"}});
  CHECK(refused(out(not_quite, probe_command("198.51.100.1"))));
  // The policy is read whenever a sandbox starts: started again without
  // the variable, the same workspace no longer reaches the host.
  pyro_json({"workspace", "stop", host_ok});
  on_host_json({"workspace", "start", host_ok});
  CHECK(refused(out(host_ok, probe_command("198.51.100.1"))));
}

TEST_CASE_METHOD(network_fixture,
                 "network: a host port below 1024 is published only with "
                 "the operator's consent") {
  auto ws = create_on_host("egress+published-ports");
  out(ws, "mkdir -p www && echo published-page > www/index.html");
  std::vector<std::string> start{"workspace",
                                 "service",
                                 "start",
                                 ws,
                                 "web",
                                 "--publish",
                                 "80:8080",
                                 "--ready-http",
                                 "http://127.0.0.1:8080/index.html",
                                 "--",
                                 "exec httpd -f -p 0.0.0.0:8080 -h "
                                 "/workspace/www"};
  auto refused_start = on_host(start);
  CHECK(refused_start.exit_code == 2); // invalid_argument
  CHECK(refused_start.err.find("host port 80 ") != std::string::npos);
  CHECK(refused_start.err.find("PYRO_PUBLISH_ALLOW_PRIVILEGED=1")
        != std::string::npos);
  CHECK_FALSE(host_port_open(net.host(), 80));
  // Nothing was started for it either.
  auto listed = pyro_json({"workspace", "service", "list", ws});
  CHECK(listed["services"].empty());
  auto started = on_host_json(start, {{"PYRO_PUBLISH_ALLOW_PRIVILEGED", "1"}});
  REQUIRE(started["state"] == "ready");
  CHECK(started["published_ports"][0]["host_port"] == 80);
  CHECK(host_get(net.host(), 80).find("published-page") != std::string::npos);
}

TEST_CASE_METHOD(network_fixture,
                 "network: a published port closes when its service exits "
                 "by itself") {
  auto ws = create_on_host("egress+published-ports");
  out(ws, "mkdir -p www && echo published-page > www/index.html");
  constexpr int host_port = 18080;
  // Serves until the test says stop, then exits on its own.
  auto started = on_host_json(
    {"workspace", "service", "start", ws, "web", "--publish",
     std::to_string(host_port) + ":8080", "--ready-http",
     "http://127.0.0.1:8080/index.html", "--",
     "httpd -f -p 0.0.0.0:8080 -h /workspace/www & "
     "while [ ! -e /workspace/stop ]; do sleep 0.1; done; kill $!"});
  REQUIRE(started["state"] == "ready");
  CHECK(host_get(net.host(), host_port).find("published-page")
        != std::string::npos);
  // Its watcher, started in the background as the service became ready.
  for (int i = 0; i < 50 && processes_mentioning(ws) == 0; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(processes_mentioning(ws) == 1);
  out(ws, "touch /workspace/stop");
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    closed = !host_port_open(net.host(), host_port);
    if (!closed)
      std::this_thread::sleep_for(100ms);
  }
  CHECK(closed); // within 5 s
  auto status = pyro_json({"workspace", "service", "status", ws, "web"});
  CHECK(status["state"] == "exited");
  CHECK(status["published_ports"].empty());
  // The watcher went with the service.
  for (int i = 0; i < 20 && processes_mentioning(ws) > 0; ++i)
    std::this_thread::sleep_for(100ms);
  CHECK(processes_mentioning(ws) == 0);
  // The name is free again, and the port with it.
  auto again
    = on_host_json({"workspace", "service", "start", ws, "web", "--publish",
                    std::to_string(host_port) + ":8080", "--ready-http",
                    "http://127.0.0.1:8080/index.html", "--",
                    "exec httpd -f -p 0.0.0.0:8080 -h /workspace/www"});
  CHECK(again["state"] == "ready");
  CHECK(host_get(net.host(), host_port).find("published-page")
        != std::string::npos);
}

TEST_CASE_METHOD(network_fixture,
                 "network: a published port answers on 127.0.0.1 until its "
                 "service stops") {
  auto ws = create_on_host("egress+published-ports");
  out(ws, "mkdir -p www && echo published-page > www/index.html");
  constexpr int host_port = 18080;
  auto started
    = on_host_json({"workspace", "service", "start", ws, "web", "--publish",
                    std::to_string(host_port) + ":8080", "--ready-http",
                    "http://127.0.0.1:8080/index.html", "--",
                    "exec httpd -f -p 0.0.0.0:8080 -h /workspace/www"});
  REQUIRE(started["state"] == "ready");
  REQUIRE(started["published_ports"].size() == 1);
  CHECK(started["published_ports"][0]["host_address"] == "127.0.0.1");
  CHECK(host_get(net.host(), host_port).find("published-page")
        != std::string::npos);
  pyro_json({"workspace", "service", "stop", ws, "web"});
  CHECK_FALSE(host_port_open(net.host(), host_port));
  SECTION("publishing needs the policy that allows it") {
    auto plain = create_on_host("egress");
    auto refused = on_host({"workspace", "service", "start", plain, "web",
                            "--publish", "18081:8080", "--", "sleep 60"});
    CHECK(refused.exit_code == 5); // failed_precondition
    CHECK(refused.err.find("egress+published-ports") != std::string::npos);
  }
  SECTION("delete takes the forwards and their watcher with it") {
    on_host_json({"workspace", "service", "start", ws, "web2", "--publish",
                  std::to_string(host_port) + ":8080", "--",
                  "exec httpd -f -p 0.0.0.0:8080 -h /workspace/www"});
    CHECK(processes_mentioning(ws) == 1);
    pyro_json({"workspace", "delete", ws});
    CHECK_FALSE(host_port_open(net.host(), host_port));
    for (int i = 0; i < 30 && processes_mentioning(ws) > 0; ++i)
      std::this_thread::sleep_for(100ms);
    CHECK(processes_mentioning(ws) == 0);
  }
}
