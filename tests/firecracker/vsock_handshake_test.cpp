// The host side of Firecracker's hybrid vsock (messages/wire), on its own
// and inside agent_client and connect_agent, against a fake listener.

#include <chrono>
#include <thread>

#include "actors/agent_link.hpp"
#include "fixtures.hpp"
#include "messages/wire/agent_client.hpp"
#include "messages/wire/vsock_handshake.hpp"

using namespace pyro;
using namespace std::chrono_literals;

namespace {

// A connected pair: the test plays Firecracker on `peer`.
struct pair_fds {
  int host = -1;
  int peer = -1;
  pair_fds() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    host = fds[0];
    peer = fds[1];
  }
  ~pair_fds() {
    ::close(host);
    if (peer >= 0)
      ::close(peer);
  }
};

} // namespace

TEST_CASE("vsock handshake: CONNECT line, OK answer, clean stream after") {
  pair_fds p;
  // The answer and the first guest bytes arrive together: the handshake
  // must leave the latter in the socket.
  test::write_all(p.peer, "OK 1073741824\nguest bytes");
  auto port = wire::vsock_handshake(p.host, 1024, 1s);
  INFO((port ? std::string{} : to_string(port.err())));
  REQUIRE(port);
  CHECK(*port == 1073741824u);
  CHECK(test::read_line(p.peer) == "CONNECT 1024\n");
  char buf[32] = {};
  auto n = ::recv(p.host, buf, sizeof(buf), 0);
  CHECK(std::string{buf, static_cast<size_t>(n)} == "guest bytes");
}

TEST_CASE("vsock handshake: an answer that is not OK is a clear error") {
  for (const std::string& garbage : std::vector<std::string>{
         "ERR no such port\n", "OK\n", "OK 12x\n", "ok 5\n", "OK 99999999999\n",
         std::string(40, 'A')}) {
    pair_fds p;
    test::write_all(p.peer, garbage);
    auto port = wire::vsock_handshake(p.host, 52, 1s);
    REQUIRE_FALSE(port);
    INFO(port.err().message);
    CHECK(port.err().code == error_code::internal);
    CHECK(port.err().message.find("unexpected answer to CONNECT for vsock "
                                  "port 52")
          != std::string::npos);
    CHECK(port.err().message.find("'" + garbage.substr(0, 2))
          != std::string::npos);
  }
}

TEST_CASE("vsock handshake: a closed connection means nothing listens") {
  {
    // Firecracker reads the CONNECT line, finds no guest listener and
    // closes.
    pair_fds p;
    std::thread firecracker{[&] {
      CHECK(test::read_line(p.peer) == "CONNECT 1024\n");
      ::close(p.peer);
      p.peer = -1;
    }};
    auto port = wire::vsock_handshake(p.host, 1024, 1s);
    firecracker.join();
    REQUIRE_FALSE(port);
    CHECK(port.err().code == error_code::unavailable);
    CHECK(port.err().message
          == "the VM closed the connection to vsock port 1024 without "
             "acknowledging it");
    CHECK(port.err().hint.find("nothing in the guest listens")
          != std::string::npos);
  }
  {
    pair_fds p; // closed before the CONNECT could even be sent
    ::close(p.peer);
    p.peer = -1;
    auto port = wire::vsock_handshake(p.host, 1024, 1s);
    REQUIRE_FALSE(port);
    CHECK(port.err().code == error_code::unavailable);
    CHECK(port.err().message.find("cannot send CONNECT for vsock port 1024")
          != std::string::npos);
  }
}

TEST_CASE("vsock handshake: silence ends at the timeout") {
  pair_fds p;
  test::write_all(p.peer, "OK 12"); // a partial line, then nothing
  auto start = std::chrono::steady_clock::now();
  auto port = wire::vsock_handshake(p.host, 1024, 300ms);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(port);
  CHECK(port.err().code == error_code::deadline_exceeded);
  CHECK(port.err().message.find("within 300 ms") != std::string::npos);
  CHECK(port.err().message.find("'OK 12'") != std::string::npos);
  CHECK(took >= 290ms);
  CHECK(took < 2s);
}

TEST_CASE("vsock connect: names the socket it could not reach") {
  test::temp_dir dir;
  auto missing = (dir.path() / "v.sock").string();
  auto fd = wire::vsock_connect(missing, 1024, 1s);
  REQUIRE_FALSE(fd);
  CHECK(fd.err().code == error_code::unavailable);
  CHECK(fd.err().message.find(missing) != std::string::npos);
}

TEST_CASE("vsock connect: connects, asks for the port, returns the stream") {
  test::temp_dir dir;
  auto uds = (dir.path() / "v.sock").string();
  test::fake_vsock fake{uds, [](const std::string&) {
                          return "OK 7\n";
                        }};
  auto fd = wire::vsock_connect(uds, 5005, 1s);
  REQUIRE(fd);
  ::close(*fd);
  REQUIRE(fake.lines().size() == 1);
  CHECK(fake.lines()[0] == "CONNECT 5005\n");
}

TEST_CASE("agent_client: a vsock port makes every connection ask for it") {
  test::test_agent agent;
  test::temp_dir dir;
  auto uds = (dir.path() / "v.sock").string();
  test::fake_vsock fake{uds,
                        [](const std::string& line) {
                          return line == "CONNECT 1024\n" ? "OK 1073741824\n"
                                                          : "";
                        },
                        agent.socket};
  wire::agent_client client{uds, 2s, 1024};
  auto hello = client.call("hello", nlohmann::json::object());
  INFO((hello ? std::string{} : to_string(hello.err())));
  REQUIRE(hello);
  CHECK(hello->value("agent", "") == "pyro-agent");
  // A second call reuses the idle connection: no second handshake.
  REQUIRE(client.call("hello", nlohmann::json::object()));
  CHECK(fake.lines() == std::vector<std::string>{"CONNECT 1024\n"});

  // Without the port the same socket only sees the agent's own frames,
  // which the fake does not take for a CONNECT line.
  wire::agent_client plain{uds, 2s};
  auto refused
    = plain.call("hello", nlohmann::json::object(), nullptr, nullptr, 300ms);
  CHECK_FALSE(refused);
}

TEST_CASE("agent_client: a refused vsock port is an error naming it") {
  test::temp_dir dir;
  auto uds = (dir.path() / "v.sock").string();
  test::fake_vsock fake{uds, [](const std::string&) {
                          return "";
                        }};
  wire::agent_client client{uds, 1s, 1024};
  auto hello = client.call("hello", nlohmann::json::object());
  REQUIRE_FALSE(hello);
  CHECK(hello.err().code == error_code::unavailable);
  CHECK(hello.err().message.find("cannot reach the agent at " + uds)
        != std::string::npos);
  CHECK(hello.err().message.find("vsock port 1024") != std::string::npos);
}

TEST_CASE("connect_agent: an endpoint's vsock port reaches the agent") {
  test::test_agent agent;
  test::temp_dir dir;
  auto uds = (dir.path() / "v.sock").string();
  test::fake_vsock fake{uds,
                        [](const std::string& line) {
                          return line == "CONNECT 1024\n" ? "OK 1073741824\n"
                                                          : "";
                        },
                        agent.socket};
  auto link = connect_agent(vmm::agent_endpoint{uds, 1024});
  REQUIRE(link);
  auto hello = (*link)->call("hello", nlohmann::json::object(), 5s);
  INFO((hello ? std::string{} : to_string(hello.err())));
  REQUIRE(hello);
  CHECK(fake.lines() == std::vector<std::string>{"CONNECT 1024\n"});
}
