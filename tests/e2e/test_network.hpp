#pragma once

// A network of two namespaces made for one test, so that no test traffic
// leaves the machine or touches its interfaces. "host" stands for the
// machine pyro runs on: pyro itself, and so slirp4netns, run inside it.
// "outside" stands for the world behind the host's default route:
//
//   host     lo; h0 198.51.100.1/24, fd99::1/64, default routes via
//            outside; d0 100.64.7.1/32, a second interface
//   outside  lo 203.0.113.10/32, 169.254.169.254/32 (a metadata service),
//            fd99:2::10/128; o0 198.51.100.2/24, fd99::2/64
//
// Each namespace lives as long as a process of this test holds it: no
// /run/netns name that anything else on the machine could remove.

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/run_process.hpp"

namespace pyro::test {

/// Runs `fn` with this thread in the network namespace at `ns_path`;
/// sockets it opens stay there.
template <class F>
auto in_netns(const std::string& ns_path, F&& fn) {
  int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(self >= 0);
  REQUIRE(target >= 0);
  REQUIRE(::setns(target, CLONE_NEWNET) == 0);
  struct back {
    int self;
    int target;
    ~back() {
      ::setns(self, CLONE_NEWNET);
      ::close(self);
      ::close(target);
    }
  } restore{self, target};
  return fn();
}

/// A child process that does `fn` in a network namespace (a new one when
/// `ns_path` is empty) and is killed when this goes out of scope. `fn`
/// writes a byte to `ready` once it is set up.
class netns_process {
public:
  netns_process(const std::string& ns_path,
                const std::function<void(int ready)>& fn) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      if (ns_path.empty()) {
        if (::unshare(CLONE_NEWNET) != 0)
          ::_exit(1);
      } else {
        int ns = ::open(ns_path.c_str(), O_RDONLY);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0)
          ::_exit(1);
      }
      fn(ready[1]);
      ::_exit(0);
    }
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
  }
  netns_process(const netns_process&) = delete;
  netns_process& operator=(const netns_process&) = delete;
  ~netns_process() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  [[nodiscard]] std::string ns_path() const {
    return "/proc/" + std::to_string(pid_) + "/ns/net";
  }

  [[nodiscard]] pid_t pid() const {
    return pid_;
  }

private:
  pid_t pid_ = -1;
};

/// Answers every TCP connection to PORT on all of a namespace's addresses,
/// IPv4 and IPv6, with `text` and closes it.
class tcp_responder {
public:
  tcp_responder(const std::string& ns_path, int port, std::string text)
    : process_{
      ns_path, [port, text](int ready) {
        int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
        int off = 0;
        int on = 1;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_port = htons(static_cast<uint16_t>(port));
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
            || ::listen(fd, 64) != 0)
          ::_exit(1);
        [[maybe_unused]] auto n = ::write(ready, "r", 1);
        for (;;) {
          int c = ::accept(fd, nullptr, nullptr);
          if (c < 0)
            continue;
          [[maybe_unused]] auto w = ::write(c, text.data(), text.size());
          ::close(c);
        }
      }} {
    // nop
  }

private:
  netns_process process_;
};

class test_network {
public:
  test_network() {
    auto outside_pid = std::to_string(outside_.pid());
    for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"host", "link", "set", "lo", "up"},
           {"outside", "link", "set", "lo", "up"},
           {"host", "link", "add", "h0", "type", "veth", "peer", "name", "o0",
            "netns", outside_pid},
           {"host", "addr", "add", "198.51.100.1/24", "dev", "h0"},
           {"host", "addr", "add", "fd99::1/64", "dev", "h0", "nodad"},
           {"host", "link", "set", "h0", "up"},
           {"host", "route", "add", "default", "via", "198.51.100.2"},
           {"host", "-6", "route", "add", "default", "via", "fd99::2"},
           {"host", "link", "add", "d0", "type", "veth", "peer", "name", "d1"},
           {"host", "addr", "add", "100.64.7.1/32", "dev", "d0"},
           {"host", "link", "set", "d0", "up"},
           {"outside", "addr", "add", "198.51.100.2/24", "dev", "o0"},
           {"outside", "addr", "add", "fd99::2/64", "dev", "o0", "nodad"},
           {"outside", "link", "set", "o0", "up"},
           {"outside", "addr", "add", "203.0.113.10/32", "dev", "lo"},
           {"outside", "addr", "add", "169.254.169.254/32", "dev", "lo"},
           {"outside", "addr", "add", "fd99:2::10/128", "dev", "lo"},
         }) {
      std::vector<std::string> argv{
        "/usr/bin/nsenter", "--net=" + (cmd[0] == "host" ? host() : outside()),
        "/sbin/ip"};
      argv.insert(argv.end(), cmd.begin() + 1, cmd.end());
      auto r = run_process(argv);
      INFO("ip " << cmd[1] << " " << cmd[2] << " ...: " << r.err);
      REQUIRE(r.exit_code == 0);
    }
  }

  /// The namespace path of the stand-in for the machine pyro runs on.
  [[nodiscard]] std::string host() const {
    return host_.ns_path();
  }

  [[nodiscard]] std::string outside() const {
    return outside_.ns_path();
  }

private:
  static void hold(int ready) {
    [[maybe_unused]] auto n = ::write(ready, "r", 1);
    for (;;)
      ::pause();
  }

  netns_process host_{"", hold};
  netns_process outside_{"", hold};
};

} // namespace pyro::test
