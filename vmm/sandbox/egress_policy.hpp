#pragma once

// Which destinations slirp4netns may open for a sandbox under the egress
// policies. slirp4netns connects from the host's network namespace, so
// "anywhere" as seen from there includes the host itself: its addresses on
// every interface (where a service bound to 0.0.0.0 answers) and the link
// (link-local, multicast and broadcast destinations, where clouds serve
// instance metadata and credentials at 169.254.169.254). Those are refused
// unless the operator allows them in the environment of the pyro process
// that starts the sandbox: never through a tool or CLI argument, which an
// MCP client could set. The host's loopback is refused whatever the
// operator says (an MCP server listens there); the one exception is DNS to
// the host's own resolvers, where slirp4netns forwards the sandbox's
// queries.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pyro::vmm {

/// What the operator lets egress reach beyond the outside world.
struct egress_policy {
  /// PYRO_EGRESS_ALLOW_HOST=1: the host's own non-loopback addresses.
  bool allow_host = false;
  /// PYRO_EGRESS_ALLOW_LINK_LOCAL=1: link-local, multicast and broadcast
  /// destinations, cloud metadata services included.
  bool allow_link_local = false;

  /// The policy the environment sets; any value but "1" allows nothing.
  static egress_policy from_environment();

  /// True when nothing is left to check beyond what slirp4netns's own
  /// --disable-host-loopback refuses.
  [[nodiscard]] bool unrestricted() const {
    return allow_host && allow_link_local;
  }
};

inline constexpr const char* allow_host_variable = "PYRO_EGRESS_ALLOW_HOST";
inline constexpr const char* allow_link_local_variable
  = "PYRO_EGRESS_ALLOW_LINK_LOCAL";

/// One IPv4 or IPv6 destination. IPv4-mapped IPv6 addresses are folded to
/// IPv4, which is where the kernel sends them.
struct destination {
  int family = 0;                          ///< AF_INET or AF_INET6
  std::array<unsigned char, 16> address{}; ///< 4 bytes used for IPv4
  uint16_t port = 0;

  [[nodiscard]] std::string to_string() const;
};

/// Every destination the kernel could take from the socket address a
/// program passes to connect, sendto or sendmsg on an IPv4 or IPv6 socket.
/// Deliberately wide: an AF_UNSPEC address on an IPv4 datagram socket is
/// sent to like an AF_INET one, and an IPv6 datagram socket takes AF_INET
/// addresses. Empty when the address names nothing the kernel would send
/// to (too short, another family, or a connect with AF_UNSPEC, which
/// disconnects).
std::vector<destination> destinations_in(const unsigned char* addr, size_t len,
                                         bool is_connect);

/// Why a destination is refused.
enum class refusal {
  none,       ///< allowed
  loopback,   ///< the host's loopback (never allowed)
  host,       ///< an address of this host (PYRO_EGRESS_ALLOW_HOST)
  link_local, ///< link-local, multicast, broadcast or metadata
              ///< (PYRO_EGRESS_ALLOW_LINK_LOCAL)
  unknown,    ///< the routing lookup failed: refused to be safe
};

/// What the kernel's routing tables say about a destination: the route
/// type (RTN_LOCAL, RTN_UNICAST, ...) or a negative errno.
using route_lookup = std::function<int(const destination&)>;

/// The nameservers DNS may go to even when they are host addresses.
using nameserver_list = std::function<std::vector<destination>()>;

/// The verdict for one destination.
refusal judge(const destination& d, const egress_policy& policy,
              const route_lookup& route, const nameserver_list& nameservers);

/// A sentence for the log: why, and which variable would allow it.
std::string explain(refusal why);

/// The nameservers of /etc/resolv.conf, port 53.
std::vector<destination> resolv_conf_nameservers();

/// Asks the kernel how it would route to a destination (RTM_GETROUTE over
/// rtnetlink, in the caller's network namespace): RTN_LOCAL means the
/// packet would be delivered to this host, whatever interface or local
/// route (an AnyIP range included) makes it so, as of the moment asked.
class route_oracle {
public:
  route_oracle();
  ~route_oracle();
  route_oracle(const route_oracle&) = delete;
  route_oracle& operator=(const route_oracle&) = delete;

  /// The route type, or a negative errno.
  int type_of(const destination& d);

private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

} // namespace pyro::vmm
