#include "vmm/sandbox/egress_policy.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace pyro::vmm {

namespace {

bool flag_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

destination v4(const unsigned char* a, uint16_t port) {
  destination d;
  d.family = AF_INET;
  std::memcpy(d.address.data(), a, 4);
  d.port = port;
  return d;
}

// ::ffff:a.b.c.d goes out as IPv4, so it is judged as IPv4.
destination v6(const unsigned char* a, uint16_t port) {
  static const unsigned char mapped[12]
    = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, mapped, sizeof(mapped)) == 0)
    return v4(a + 12, port);
  destination d;
  d.family = AF_INET6;
  std::memcpy(d.address.data(), a, 16);
  d.port = port;
  return d;
}

bool in_v4(const destination& d, uint32_t net, int bits) {
  uint32_t a = 0;
  std::memcpy(&a, d.address.data(), 4);
  a = ntohl(a);
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

bool in_v6(const destination& d, std::initializer_list<unsigned char> prefix,
           int bits) {
  int i = 0;
  for (unsigned char byte : prefix) {
    int take = bits - 8 * i;
    if (take <= 0)
      break;
    unsigned char mask
      = take >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - take));
    if ((d.address[i] & mask) != (byte & mask))
      return false;
    ++i;
  }
  return true;
}

bool all_zero(const destination& d) {
  for (unsigned char b : d.address)
    if (b != 0)
      return false;
  return true;
}

// Loopback, and the unspecified address, which connect() sends to the
// host itself.
bool is_loopback(const destination& d) {
  if (d.family == AF_INET)
    return in_v4(d, 0x7f000000, 8) || in_v4(d, 0, 8);
  static const destination one = [] {
    destination x;
    x.family = AF_INET6;
    x.address[15] = 1;
    return x;
  }();
  return all_zero(d) || d.address == one.address;
}

// The link, whatever the routing tables say: link-local unicast, multicast,
// the limited broadcast and the metadata services clouds put there
// (169.254.169.254, and AWS's fd00:ec2::254 for IPv6).
bool is_link(const destination& d) {
  if (d.family == AF_INET)
    return in_v4(d, 0xa9fe0000, 16) || in_v4(d, 0xe0000000, 4)
           || in_v4(d, 0xffffffff, 32);
  static const unsigned char aws[16]
    = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  return in_v6(d, {0xfe, 0x80}, 10) || in_v6(d, {0xff}, 8)
         || std::memcmp(d.address.data(), aws, 16) == 0;
}

bool same_host(const destination& a, const destination& b) {
  return a.family == b.family && a.address == b.address;
}

} // namespace

egress_policy egress_policy::from_environment() {
  egress_policy p;
  p.allow_host = flag_set(allow_host_variable);
  p.allow_link_local = flag_set(allow_link_local_variable);
  return p;
}

std::string destination::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(family, address.data(), text, sizeof(text));
  auto p = std::to_string(port);
  return family == AF_INET6 ? "[" + std::string{text} + "]:" + p
                            : std::string{text} + ":" + p;
}

std::vector<destination> destinations_in(const unsigned char* addr, size_t len,
                                         bool is_connect) {
  std::vector<destination> out;
  sa_family_t family = AF_UNSPEC;
  if (len < sizeof(family))
    return out;
  std::memcpy(&family, addr, sizeof(family));
  if (is_connect && family == AF_UNSPEC)
    return out; // a disconnect
  if ((family == AF_INET || family == AF_UNSPEC)
      && len >= sizeof(sockaddr_in)) {
    sockaddr_in sin{};
    std::memcpy(&sin, addr, sizeof(sin));
    out.push_back(v4(reinterpret_cast<const unsigned char*>(&sin.sin_addr),
                     ntohs(sin.sin_port)));
  }
  // SIN6_LEN_RFC2133: the kernel takes an address without sin6_scope_id.
  constexpr size_t short_sin6 = 24;
  if (family == AF_INET6 && len >= short_sin6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, addr, std::min(len, sizeof(sin6)));
    out.push_back(v6(sin6.sin6_addr.s6_addr, ntohs(sin6.sin6_port)));
  }
  return out;
}

refusal judge(const destination& d, const egress_policy& policy,
              const route_lookup& route, const nameserver_list& nameservers) {
  refusal why = refusal::none;
  if (is_loopback(d)) {
    why = refusal::loopback;
  } else if (is_link(d)) {
    why = policy.allow_link_local ? refusal::none : refusal::link_local;
  } else {
    int type = route(d);
    if (type == RTN_LOCAL)
      why = policy.allow_host ? refusal::none : refusal::host;
    else if (type == RTN_BROADCAST || type == RTN_MULTICAST)
      why = policy.allow_link_local ? refusal::none : refusal::link_local;
    else if (type < 0 && type != -ENETUNREACH && type != -EHOSTUNREACH)
      why = refusal::unknown; // the connect itself fails on no route
  }
  // slirp4netns forwards the sandbox's DNS to the host's resolvers, which
  // may well be host addresses (127.0.0.53 under systemd-resolved).
  if (why != refusal::none && why != refusal::unknown && d.port == 53)
    for (const auto& ns : nameservers())
      if (same_host(ns, d))
        return refusal::none;
  return why;
}

std::string explain(refusal why) {
  switch (why) {
  case refusal::none:
    return "allowed";
  case refusal::loopback:
    return "the host's loopback, never reachable from a sandbox";
  case refusal::host:
    return std::string{"an address of this host; "} + allow_host_variable
           + "=1 in the environment of the pyro process that starts "
             "the sandbox allows it";
  case refusal::link_local:
    return std::string{"a link-local, multicast, broadcast or metadata "
                       "address; "}
           + allow_link_local_variable
           + "=1 in the environment of the pyro process that starts the "
             "sandbox allows it";
  case refusal::unknown:
    break;
  }
  return "the kernel's routing tables could not be asked where it leads";
}

std::vector<destination> resolv_conf_nameservers() {
  std::vector<destination> out;
  std::ifstream in{"/etc/resolv.conf"};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words{line};
    std::string key;
    std::string value;
    if (!(words >> key >> value) || key != "nameserver")
      continue;
    value = value.substr(0, value.find('%')); // fe80::1%eth0
    unsigned char bytes[16];
    if (::inet_pton(AF_INET, value.c_str(), bytes) == 1)
      out.push_back(v4(bytes, 53));
    else if (::inet_pton(AF_INET6, value.c_str(), bytes) == 1)
      out.push_back(v6(bytes, 53));
  }
  return out;
}

route_oracle::route_oracle() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ >= 0) {
    timeval limit{1, 0}; // the kernel answers at once; never hang on it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  }
}

route_oracle::~route_oracle() {
  if (fd_ >= 0)
    ::close(fd_);
}

int route_oracle::type_of(const destination& d) {
  if (fd_ < 0)
    return -EBADF;
  struct {
    nlmsghdr header;
    rtmsg route;
    char attributes[64];
  } request{};
  size_t bytes = d.family == AF_INET ? 4 : 16;
  request.header.nlmsg_type = RTM_GETROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = ++seq_;
  request.route.rtm_family = static_cast<unsigned char>(d.family);
  request.route.rtm_dst_len = static_cast<unsigned char>(bytes * 8);
  auto* dst = reinterpret_cast<rtattr*>(request.attributes);
  dst->rta_type = RTA_DST;
  dst->rta_len = static_cast<unsigned short>(RTA_LENGTH(bytes));
  std::memcpy(RTA_DATA(dst), d.address.data(), bytes);
  request.header.nlmsg_len
    = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(rtmsg))) + RTA_ALIGN(dst->rta_len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, &request, request.header.nlmsg_len, 0,
               reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel))
      < 0)
    return -errno;
  alignas(nlmsghdr) char reply[8192];
  for (;;) {
    auto n = ::recv(fd_, reply, sizeof(reply), 0);
    if (n < 0)
      return errno == EINTR ? -EAGAIN : -errno;
    auto left = static_cast<unsigned int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq_)
        continue; // a late answer to an earlier question
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return e->error < 0 ? e->error : -EPROTO;
      }
      if (h->nlmsg_type == RTM_NEWROUTE)
        return static_cast<rtmsg*>(NLMSG_DATA(h))->rtm_type;
    }
  }
}

} // namespace pyro::vmm
