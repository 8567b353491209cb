// The channel multiplexer on its own: a host pump (relay socket) and a guest
// pump (echo servers on socketpairs) joined by a socketpair standing in for
// the virtio-serial port.

#include <atomic>
#include <csignal>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../unit/temp_dir.hpp"
#include "messages/wire/mux.hpp"

namespace {

using pyro::wire::mux_pump;

// As in the agent and pyro-vm, which both run the pump: a peer hanging up
// is an error return, not a signal.
const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

int listen_on(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  return fd;
}

int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string read_n(int fd, size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    auto got = ::read(fd, out.data() + done, n - done);
    if (got <= 0)
      break;
    done += static_cast<size_t>(got);
  }
  out.resize(done);
  return out;
}

// Each guest channel echoes what it receives until end-of-file.
struct echo_guest {
  std::atomic<int> opened{0};

  mux_pump::options options() {
    mux_pump::options o;
    o.on_open = [this](uint32_t) {
      int pair[2];
      ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
      ++opened;
      int fd = pair[1];
      std::thread{[fd] {
        char buf[8192];
        for (;;) {
          auto n = ::read(fd, buf, sizeof buf);
          if (n <= 0
              || !write_all(fd, std::string(buf, static_cast<size_t>(n))))
            break;
        }
        ::close(fd);
      }}.detach();
      return pair[0];
    };
    return o;
  }
};

struct relay_link {
  pyro::test::temp_dir dir;
  std::string relay;
  echo_guest guest;
  int trunk[2];
  std::thread host_thread;
  std::thread guest_thread;
  pyro::status host_result;

  relay_link() : relay((dir.path() / "relay.sock").string()) {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) == 0);
    int listener = listen_on(relay);
    host_thread = std::thread{[this, listener] {
      mux_pump::options o;
      o.listen_fd = listener;
      o.send_reset = true;
      host_result = mux_pump{trunk[0], std::move(o)}.run();
      ::close(listener);
    }};
    guest_thread = std::thread{[this] {
      static_cast<void>(mux_pump{trunk[1], guest.options()}.run());
    }};
  }

  ~relay_link() {
    ::shutdown(trunk[1], SHUT_RDWR);
    ::shutdown(trunk[0], SHUT_RDWR);
    host_thread.join();
    guest_thread.join();
  }
};

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen{seed};
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(gen());
  return out;
}

} // namespace

TEST_CASE("every relay connection is its own channel, in both directions") {
  relay_link l;
  std::vector<int> clients;
  for (int i = 0; i < 8; ++i)
    clients.push_back(connect_to(l.relay));
  for (int i = 0; i < 8; ++i)
    REQUIRE(write_all(clients[i], "channel " + std::to_string(i) + "\n"));
  // Answers come back on the connection that asked, whatever the order.
  for (int i = 7; i >= 0; --i) {
    auto expected = "channel " + std::to_string(i) + "\n";
    CHECK(read_n(clients[i], expected.size()) == expected);
  }
  CHECK(l.guest.opened == 8);
  for (int fd : clients)
    ::close(fd);
}

TEST_CASE("large concurrent transfers arrive intact and unmixed") {
  relay_link l;
  constexpr size_t size = 6u << 20; // beyond every queue limit
  std::vector<std::thread> senders;
  std::atomic<int> intact{0};
  for (unsigned i = 0; i < 3; ++i)
    senders.emplace_back([&, i] {
      int fd = connect_to(l.relay);
      auto data = random_bytes(size, i);
      std::thread writer{[&] {
        write_all(fd, data);
      }};
      auto echoed = read_n(fd, size);
      writer.join();
      if (echoed == data)
        ++intact;
      ::close(fd);
    });
  for (auto& t : senders)
    t.join();
  CHECK(intact == 3);
}

TEST_CASE("a client hanging up closes its channel in the guest") {
  relay_link l;
  int fd = connect_to(l.relay);
  REQUIRE(write_all(fd, "x"));
  CHECK(read_n(fd, 1) == "x");
  ::close(fd);
  // A new connection still works after the old channel went away.
  int again = connect_to(l.relay);
  REQUIRE(write_all(again, "y"));
  CHECK(read_n(again, 1) == "y");
  ::close(again);
}

TEST_CASE("the guest closing a channel ends the client's connection") {
  pyro::test::temp_dir dir;
  auto relay = (dir.path() / "relay.sock").string();
  int trunk[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) == 0);
  int listener = listen_on(relay);
  std::thread host{[&] {
    mux_pump::options o;
    o.listen_fd = listener;
    static_cast<void>(mux_pump{trunk[0], std::move(o)}.run());
  }};
  // A guest that answers once and hangs up.
  mux_pump::options g;
  g.on_open = [](uint32_t) {
    int pair[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
    write_all(pair[1], "bye");
    ::close(pair[1]);
    return pair[0];
  };
  std::thread guest{[&] {
    static_cast<void>(mux_pump{trunk[1], std::move(g)}.run());
  }};
  int fd = connect_to(relay);
  CHECK(read_n(fd, 3) == "bye");
  char c;
  CHECK(::read(fd, &c, 1) == 0);
  ::close(fd);
  ::shutdown(trunk[1], SHUT_RDWR);
  ::shutdown(trunk[0], SHUT_RDWR);
  host.join();
  guest.join();
  ::close(listener);
}

TEST_CASE("a corrupt trunk stops the pump with an error naming it") {
  int trunk[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) == 0);
  // Channel 1 claiming a 16 MiB frame: beyond the 64 KiB body limit.
  auto bad
    = std::string("\x00\x00\x00\x01", 4) + std::string("\x01\x00\x00\x00", 4);
  REQUIRE(write_all(trunk[0], bad));
  mux_pump::options o;
  o.on_open = [](uint32_t) {
    return -1;
  };
  auto ran = mux_pump{trunk[1], std::move(o)}.run();
  REQUIRE_FALSE(ran);
  CHECK(ran.err().message.find("corrupt channel stream") != std::string::npos);
  ::close(trunk[0]);
}

TEST_CASE("a reset drops every open channel, as after a snapshot restore") {
  int trunk[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) == 0);
  int local = -1;
  mux_pump::options o;
  o.on_open = [&](uint32_t) {
    int pair[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
    local = pair[1];
    return pair[0];
  };
  std::thread guest{[&] {
    static_cast<void>(mux_pump{trunk[1], std::move(o)}.run());
  }};
  using pyro::wire::encode_mux_control;
  using pyro::wire::mux_control;
  REQUIRE(write_all(trunk[0], encode_mux_control(mux_control::open, 7)));
  REQUIRE(write_all(trunk[0], pyro::wire::encode_mux_data(7, "hi")));
  for (int i = 0; i < 500 && local < 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  REQUIRE(local >= 0);
  CHECK(read_n(local, 2) == "hi");
  REQUIRE(write_all(trunk[0], encode_mux_control(mux_control::reset, 0)));
  char c;
  CHECK(::read(local, &c, 1) == 0); // the guest end saw its channel go
  ::close(local);
  ::shutdown(trunk[0], SHUT_RDWR);
  guest.join();
}

TEST_CASE("a guest whose host is gone keeps waiting for the next one") {
  int trunk[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) == 0);
  static std::atomic<bool> returned{false}; // outlives the test
  mux_pump::options o;
  o.survive_trunk_eof = true;
  o.on_open = [](uint32_t) {
    return -1;
  };
  std::thread guest{[&] {
    static_cast<void>(mux_pump{trunk[1], std::move(o)}.run());
    returned = true;
  }};
  ::close(trunk[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CHECK_FALSE(returned);
  guest.detach(); // polls forever by design; the process ends it
}
