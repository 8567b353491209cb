// The egress guard's verdicts (vmm/sandbox/egress_policy.hpp) with the
// routing tables and resolv.conf replaced by what each case needs.

#include <cerrno>
#include <cstdlib>

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include "vmm/sandbox/egress_policy.hpp"

using pyro::vmm::destination;
using pyro::vmm::egress_policy;
using pyro::vmm::refusal;

namespace {

std::vector<unsigned char> sockaddr4(sa_family_t family, const char* ip,
                                     uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = family;
  sin.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sin.sin_addr);
  auto* p = reinterpret_cast<unsigned char*>(&sin);
  return {p, p + sizeof(sin)};
}

std::vector<unsigned char> sockaddr6(const char* ip, uint16_t port) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  ::inet_pton(AF_INET6, ip, &sin6.sin6_addr);
  auto* p = reinterpret_cast<unsigned char*>(&sin6);
  return {p, p + sizeof(sin6)};
}

destination dest(const char* ip, uint16_t port = 80) {
  auto v6 = std::string{ip}.find(':') != std::string::npos;
  auto bytes = v6 ? sockaddr6(ip, port) : sockaddr4(AF_INET, ip, port);
  auto found = pyro::vmm::destinations_in(bytes.data(), bytes.size(), true);
  REQUIRE(found.size() == 1);
  return found[0];
}

// Routes: 192.0.2.7 and 2001:db8::7 are this host's; everything else is
// unicast through the default route.
int routes(const destination& d) {
  auto text = d.to_string();
  if (text.rfind("192.0.2.7:", 0) == 0 || text.rfind("[2001:db8::7]:", 0) == 0)
    return RTN_LOCAL;
  if (text.rfind("192.0.2.255:", 0) == 0)
    return RTN_BROADCAST;
  if (text.rfind("198.18.", 0) == 0)
    return -ENETUNREACH;
  if (text.rfind("198.19.", 0) == 0)
    return -ENOBUFS;
  return RTN_UNICAST;
}

std::vector<destination> no_nameservers() {
  return {};
}

refusal verdict(const char* ip, egress_policy policy = {}, uint16_t port = 80) {
  return pyro::vmm::judge(dest(ip, port), policy, routes, no_nameservers);
}

} // namespace

TEST_CASE("network policy: what the default egress policy refuses") {
  CHECK(verdict("203.0.113.10") == refusal::none);
  CHECK(verdict("2001:db8::1") == refusal::none);
  CHECK(verdict("192.0.2.7") == refusal::host);
  CHECK(verdict("2001:db8::7") == refusal::host);
  CHECK(verdict("::ffff:192.0.2.7") == refusal::host); // goes out as IPv4
  CHECK(verdict("::ffff:203.0.113.10") == refusal::none);
  for (const char* ip :
       {"127.0.0.1", "127.1.2.3", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1"}) {
    INFO(ip);
    CHECK(verdict(ip) == refusal::loopback);
  }
  for (const char* ip : {"169.254.169.254", "169.254.0.1", "224.0.0.251",
                         "239.1.2.3", "255.255.255.255", "192.0.2.255",
                         "fe80::1", "febf::1", "ff02::1", "fd00:ec2::254"}) {
    INFO(ip);
    CHECK(verdict(ip) == refusal::link_local);
  }
  CHECK(verdict("fec0::1") == refusal::none);       // not fe80::/10
  CHECK(verdict("198.18.0.1") == refusal::none);    // no route: connect fails
  CHECK(verdict("198.19.0.1") == refusal::unknown); // lookup failed: refused
}

TEST_CASE("network policy: the operator's variables open one class each") {
  egress_policy host;
  host.allow_host = true;
  CHECK(verdict("192.0.2.7", host) == refusal::none);
  CHECK(verdict("169.254.169.254", host) == refusal::link_local);
  CHECK(verdict("127.0.0.1", host) == refusal::loopback);
  egress_policy link;
  link.allow_link_local = true;
  CHECK(verdict("169.254.169.254", link) == refusal::none);
  CHECK(verdict("192.0.2.255", link) == refusal::none);
  CHECK(verdict("192.0.2.7", link) == refusal::host);
  egress_policy both{true, true};
  CHECK(both.unrestricted());
  CHECK(verdict("127.0.0.1", both) == refusal::loopback);

  ::setenv("PYRO_EGRESS_ALLOW_HOST", "1", 1);
  ::setenv("PYRO_EGRESS_ALLOW_LINK_LOCAL", "true", 1);
  auto env = egress_policy::from_environment();
  CHECK(env.allow_host);
  CHECK_FALSE(env.allow_link_local); // only "1" counts
  ::unsetenv("PYRO_EGRESS_ALLOW_HOST");
  ::unsetenv("PYRO_EGRESS_ALLOW_LINK_LOCAL");
  CHECK_FALSE(egress_policy::from_environment().allow_host);
}

TEST_CASE("network policy: DNS may go to the host's own resolvers") {
  auto resolvers = [] {
    return std::vector<destination>{dest("127.0.0.53", 53),
                                    dest("192.0.2.7", 53)};
  };
  auto judge = [&](const char* ip, uint16_t port) {
    return pyro::vmm::judge(dest(ip, port), {}, routes, resolvers);
  };
  CHECK(judge("127.0.0.53", 53) == refusal::none);
  CHECK(judge("192.0.2.7", 53) == refusal::none);
  CHECK(judge("127.0.0.53", 80) == refusal::loopback);
  CHECK(judge("192.0.2.7", 54) == refusal::host);
  CHECK(judge("127.0.0.1", 53) == refusal::loopback); // not a resolver
}

TEST_CASE("network policy: every address the kernel would send to is seen") {
  using pyro::vmm::destinations_in;
  // AF_UNSPEC: a disconnect for connect, but sent to like AF_INET by an
  // IPv4 datagram socket.
  auto unspec = sockaddr4(AF_UNSPEC, "192.0.2.7", 53);
  CHECK(destinations_in(unspec.data(), unspec.size(), true).empty());
  auto sent = destinations_in(unspec.data(), unspec.size(), false);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].to_string() == "192.0.2.7:53");
  // An IPv6 address without the scope id (the kernel takes 24 bytes).
  auto six = sockaddr6("2001:db8::7", 443);
  auto shorter = destinations_in(six.data(), 24, true);
  REQUIRE(shorter.size() == 1);
  CHECK(shorter[0].to_string() == "[2001:db8::7]:443");
  // Too short, or no address family the kernel sends IP to.
  CHECK(destinations_in(six.data(), 23, true).empty());
  auto four = sockaddr4(AF_INET, "192.0.2.7", 80);
  CHECK(destinations_in(four.data(), 15, false).empty());
  auto unix_family = sockaddr4(AF_UNIX, "192.0.2.7", 80);
  CHECK(destinations_in(unix_family.data(), unix_family.size(), false).empty());
}
