// The wire client's own guards, against listeners the test controls.

#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../unit/temp_dir.hpp"
#include "messages/wire/agent_client.hpp"

using namespace pyro;
using namespace std::chrono_literals;

namespace {

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

// Listens and never accepts.
int deaf_listener(const std::filesystem::path& path, int backlog) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = address_of(path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, backlog) == 0);
  return fd;
}

} // namespace

TEST_CASE("a full backlog fails the connect within its deadline",
          "[agent][client]") {
  test::temp_dir dir;
  auto path = dir.path() / "agent.sock";
  int listener = deaf_listener(path, 1);
  // Fill the queue the way a frozen agent's fills up.
  std::vector<int> queued;
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    auto addr = address_of(path);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      break;
    }
    queued.push_back(fd);
  }
  wire::agent_client client{path.string(), 300ms};
  auto started = std::chrono::steady_clock::now();
  auto reply = client.call("hello", nlohmann::json::object(), nullptr,
                           nullptr, 2s);
  CHECK_FALSE(reply);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  for (int fd : queued)
    ::close(fd);
  ::close(listener);
}

TEST_CASE("a socket served by another process gets no request",
          "[agent][client]") {
  test::temp_dir dir;
  auto path = dir.path() / "agent.sock";
  int listener = deaf_listener(path, 8);
  // This process listens; the client expects someone else.
  wire::agent_client client{path.string(), 300ms, 0, ::getpid() + 100000};
  auto reply = client.call("hello", nlohmann::json::object(), nullptr,
                           nullptr, 2s);
  REQUIRE_FALSE(reply);
  CHECK(reply.err().code == error_code::unavailable);
  CHECK_THAT(reply.err().message, Catch::Contains("refusing"));
  // Whatever connected was closed before a byte was written.
  int conn = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  REQUIRE(conn >= 0);
  char byte;
  CHECK(::read(conn, &byte, 1) == 0);
  ::close(conn);
  ::close(listener);
}
