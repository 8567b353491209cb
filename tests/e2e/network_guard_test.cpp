// The egress guard on its own (vmm/sandbox/egress_guard.hpp): a Python
// program stands in for slirp4netns and tries, from the test network's
// host (test_network.hpp), every way of choosing a destination the guard
// must see: connect, sendto, sendmsg, TCP fast open, AF_UNSPEC and
// IPv4-mapped addresses, IPv6, and the calls it refuses outright.

#include <map>
#include <sstream>

#include <catch2/catch.hpp>
#include <poll.h>

#include "test_network.hpp"
#include "vmm/sandbox/egress_guard.hpp"

namespace {

const char* const prober = R"PY(
import ctypes, errno, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)

def name(e):
    return errno.errorcode.get(e, str(e)) if e else "timeout"

def tcp(family, host):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, 8000))
        return s.recv(100).decode().strip()
    except OSError as e:
        return name(e.errno)
    finally:
        s.close()

# Blocking, so that the send waits for the connection it makes.
def fastopen(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.sendto(b"x", socket.MSG_FASTOPEN, (host, 8000))
        s.settimeout(3)
        return s.recv(100).decode().strip()
    except OSError as e:
        return name(e.errno)
    finally:
        s.close()

def udp(family, host, how):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        if how == "sendto":
            s.sendto(b"ping", (host, 9000))
        else:
            s.sendmsg([b"pi", b"ng"], [], 0, (host, 9000))
        return s.recv(100).decode()
    except OSError as e:
        return name(e.errno)
    finally:
        s.close()

# AF_UNSPEC where an IPv4 datagram socket expects AF_INET: the kernel
# sends to the address all the same.
def unspec(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    addr = struct.pack("=H", 0) + struct.pack("!H", 9000) \
        + socket.inet_aton(host) + b"\0" * 8
    if libc.sendto(s.fileno(), b"ping", 4, 0, addr, len(addr)) < 0:
        return name(ctypes.get_errno())
    try:
        return s.recv(100).decode()
    except OSError as e:
        return name(e.errno)

def raw(nr, *args):
    r = libc.syscall(nr, *args)
    return "ok" if r >= 0 else name(ctypes.get_errno())

def passes_fd():
    a, b = socket.socketpair()
    r, w = os.pipe()
    socket.send_fds(a, [b"x"], [w])
    _, fds, _, _ = socket.recv_fds(b, 10, 1)
    os.write(fds[0], b"z")
    return "passed" if os.read(r, 1) == b"z" else "lost"

def source_route():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x01\x01\x00")
        return "ok"
    except OSError as e:
        return name(e.errno)

def make(family, kind, proto):
    try:
        socket.socket(family, kind, proto).close()
        return "ok"
    except OSError as e:
        return name(e.errno)

def netlink():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        s.sendto(b"\0" * 16, (0, 0))
        return "ok"
    except OSError as e:
        return name(e.errno)

def bad_pointer():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    r = libc.connect(s.fileno(), ctypes.c_void_p(8), 16)
    return "ok" if r == 0 else name(ctypes.get_errno())

def not_a_socket():
    r, w = os.pipe()
    addr = struct.pack("=H", socket.AF_INET) + b"\0" * 14
    return "ok" if libc.connect(r, addr, 16) == 0 \
        else name(ctypes.get_errno())

cases = [
    ("tcp outside", lambda: tcp(socket.AF_INET, "203.0.113.10")),
    ("tcp outside next hop", lambda: tcp(socket.AF_INET, "198.51.100.2")),
    ("tcp host", lambda: tcp(socket.AF_INET, "198.51.100.1")),
    ("tcp host second interface", lambda: tcp(socket.AF_INET, "100.64.7.1")),
    ("tcp loopback", lambda: tcp(socket.AF_INET, "127.0.0.1")),
    ("tcp unspecified", lambda: tcp(socket.AF_INET, "0.0.0.0")),
    ("tcp metadata", lambda: tcp(socket.AF_INET, "169.254.169.254")),
    ("tcp6 outside", lambda: tcp(socket.AF_INET6, "fd99:2::10")),
    ("tcp6 host", lambda: tcp(socket.AF_INET6, "fd99::1")),
    ("tcp6 loopback", lambda: tcp(socket.AF_INET6, "::1")),
    ("tcp6 mapped host", lambda: tcp(socket.AF_INET6, "::ffff:198.51.100.1")),
    ("tcp6 mapped outside",
     lambda: tcp(socket.AF_INET6, "::ffff:203.0.113.10")),
    ("fastopen outside", lambda: fastopen("203.0.113.10")),
    ("fastopen host", lambda: fastopen("198.51.100.1")),
    ("udp outside", lambda: udp(socket.AF_INET, "203.0.113.10", "sendto")),
    ("udp host", lambda: udp(socket.AF_INET, "198.51.100.1", "sendto")),
    ("udp6 host", lambda: udp(socket.AF_INET6, "fd99::1", "sendto")),
    ("sendmsg outside",
     lambda: udp(socket.AF_INET, "203.0.113.10", "sendmsg")),
    ("sendmsg host", lambda: udp(socket.AF_INET, "198.51.100.1", "sendmsg")),
    ("unspec outside", lambda: unspec("203.0.113.10")),
    ("unspec host", lambda: unspec("198.51.100.1")),
    ("sendmmsg", lambda: raw(307, 0, 0, 0, 0)),
    ("io_uring_setup", lambda: raw(425, 1, 0)),
    ("source route", source_route),
    ("netlink", netlink),
    ("sctp socket",
     lambda: make(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)),
    ("mptcp socket", lambda: make(socket.AF_INET, socket.SOCK_STREAM, 262)),
    ("raw socket",
     lambda: make(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)),
    ("packet socket", lambda: make(socket.AF_PACKET, socket.SOCK_DGRAM, 0)),
    ("unix fd passing", passes_fd),
    ("bad pointer", bad_pointer),
    ("not a socket", not_a_socket),
]
for label, case in cases:
    print(f"{label}: {case()}", flush=True)
)PY";

using outcomes = std::map<std::string, std::string>;

// Answers every datagram to port 9000 with "pong".
class udp_responder {
public:
  explicit udp_responder(const std::string& ns)
    : process_{
      ns, [](int ready) {
        int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
        int off = 0;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_port = htons(9000);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
          ::_exit(1);
        [[maybe_unused]] auto n = ::write(ready, "r", 1);
        for (;;) {
          sockaddr_storage from{};
          socklen_t len = sizeof(from);
          char buf[512];
          if (::recvfrom(fd, buf, sizeof(buf), 0,
                         reinterpret_cast<sockaddr*>(&from), &len)
              >= 0)
            ::sendto(fd, "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), len);
        }
      }} {
    // nop
  }

private:
  pyro::test::netns_process process_;
};

struct guarded_run {
  outcomes results;
  std::string log;
  int exit_code = -1;
};

// Runs the prober under the guard in `ns`, guarded or, for the reference
// run, not.
guarded_run run_prober(const std::string& ns,
                       const pyro::vmm::egress_policy& policy, bool guarded) {
  int out[2];
  int err[2];
  REQUIRE(::pipe(out) == 0);
  REQUIRE(::pipe(err) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = ::open(ns.c_str(), O_RDONLY);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)
      ::_exit(1);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<std::string> argv{"/usr/bin/env", "python3", "-c", prober};
    if (guarded)
      pyro::vmm::exec_guarded(argv, policy);
    ::execv(argv[0].c_str(), const_cast<char* const*>(std::vector<const char*>{
                               argv[0].c_str(), argv[1].c_str(),
                               argv[2].c_str(), argv[3].c_str(), nullptr}
                                                        .data()));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string text[2];
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  for (int open = 2; open > 0;) {
    REQUIRE(::poll(fds, 2, 60000) > 0);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        text[i].append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  guarded_run run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.log = text[1];
  std::istringstream lines{text[0]};
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(": ");
    if (colon != std::string::npos)
      run.results[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return run;
}

void check_outcomes(const guarded_run& run, const outcomes& expected) {
  INFO("guard's log:\n" << run.log);
  CHECK(run.exit_code == 0);
  for (const auto& [label, want] : expected) {
    INFO(label);
    auto found = run.results.find(label);
    REQUIRE(found != run.results.end());
    CHECK(found->second == want);
  }
}

} // namespace

TEST_CASE("network guard: slirp's calls reach the outside only") {
  pyro::test::test_network net;
  pyro::test::tcp_responder host_tcp{net.host(), 8000, "hello from the host\n"};
  pyro::test::tcp_responder outside_tcp{net.outside(), 8000,
                                        "hello from outside\n"};
  udp_responder host_udp{net.host()};
  udp_responder outside_udp{net.outside()};
  const std::string outside = "hello from outside";
  const std::string host = "hello from the host";

  SECTION("without the guard everything is reachable (the reference)") {
    auto run = run_prober(net.host(), {}, false);
    check_outcomes(run, {{"tcp host", host},
                         {"tcp loopback", host},
                         {"tcp metadata", outside},
                         {"tcp6 host", host},
                         {"udp host", "pong"},
                         {"unspec host", "pong"},
                         {"sendmmsg", "ENOTSOCK"},
                         {"raw socket", "ok"},
                         {"source route", "ok"}});
  }
  SECTION("the default policy") {
    auto run = run_prober(net.host(), {}, true);
    check_outcomes(run, {
                          {"tcp outside", outside},
                          {"tcp outside next hop", outside},
                          {"tcp host", "ECONNREFUSED"},
                          {"tcp host second interface", "ECONNREFUSED"},
                          {"tcp loopback", "ECONNREFUSED"},
                          {"tcp unspecified", "ECONNREFUSED"},
                          {"tcp metadata", "ECONNREFUSED"},
                          {"tcp6 outside", outside},
                          {"tcp6 host", "ECONNREFUSED"},
                          {"tcp6 loopback", "ECONNREFUSED"},
                          {"tcp6 mapped host", "ECONNREFUSED"},
                          {"tcp6 mapped outside", outside},
                          {"fastopen outside", outside},
                          {"fastopen host", "EACCES"},
                          {"udp outside", "pong"},
                          {"udp host", "EACCES"},
                          {"udp6 host", "EACCES"},
                          {"sendmsg outside", "pong"},
                          {"sendmsg host", "EACCES"},
                          {"unspec outside", "pong"},
                          {"unspec host", "EACCES"},
                          {"sendmmsg", "EPERM"},
                          {"io_uring_setup", "EPERM"},
                          {"source route", "EPERM"},
                          {"netlink", "EACCES"},
                          {"sctp socket", "EPERM"},
                          {"mptcp socket", "EPERM"},
                          {"raw socket", "EPERM"},
                          {"packet socket", "EPERM"},
                          {"unix fd passing", "passed"},
                          {"bad pointer", "EFAULT"},
                          {"not a socket", "ENOTSOCK"},
                        });
    CHECK(run.log.find("refused connect to 198.51.100.1:8000: an address "
                       "of this host")
          != std::string::npos);
    CHECK(run.log.find("refused connect to 169.254.169.254:8000")
          != std::string::npos);
  }
  SECTION("PYRO_EGRESS_ALLOW_HOST opens the host's addresses, not loopback") {
    pyro::vmm::egress_policy policy;
    policy.allow_host = true;
    auto run = run_prober(net.host(), policy, true);
    check_outcomes(run, {{"tcp host", host},
                         {"tcp host second interface", host},
                         {"tcp6 host", host},
                         {"udp host", "pong"},
                         {"tcp loopback", "ECONNREFUSED"},
                         {"tcp6 loopback", "ECONNREFUSED"},
                         {"tcp metadata", "ECONNREFUSED"}});
  }
  SECTION("PYRO_EGRESS_ALLOW_LINK_LOCAL opens the link, not the host") {
    pyro::vmm::egress_policy policy;
    policy.allow_link_local = true;
    auto run = run_prober(net.host(), policy, true);
    check_outcomes(run, {{"tcp metadata", outside},
                         {"tcp host", "ECONNREFUSED"},
                         {"tcp loopback", "ECONNREFUSED"}});
  }
}
