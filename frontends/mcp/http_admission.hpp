#pragma once

// Who may talk to the HTTP transport. A web page the user visits can make
// the browser send requests to 127.0.0.1, and with DNS rebinding even read
// the replies: what gives it away is the Host header (the page's own name)
// and the Origin header. So both are parsed and compared whole, host and
// port, against the names this server is reached by; a prefix or a host
// without its port proves nothing (`127.0.0.1.evil.com` starts with
// `127.0.0.1`). A bearer token then stands between a local process of
// another user and the server.

#include <string>
#include <string_view>
#include <vector>

namespace pyro::mcp::http {

struct request;

/// The authorities (`host:port`, lower case, IPv6 in brackets) by which a
/// client reaches a server bound to `bound_host` on `port`: the bound
/// address itself and, for loopback binds, `localhost`; for a wildcard
/// bind (0.0.0.0, ::), the loopback names, the addresses of the host's
/// interfaces and its host name.
[[nodiscard]] std::vector<std::string>
allowed_authorities(std::string_view bound_host, int port);

/// Why a request was turned away: 400 (no Host, an empty one, two, or one
/// that is not an authority), 403 (a Host or Origin this server is not
/// reached by), 401 (no or the wrong bearer token); 0 when admitted.
struct admission {
  int status = 0;
  std::string message;
};

/// Checks Host and Origin against `allowed`.
[[nodiscard]] admission
check_host_and_origin(const request& req,
                      const std::vector<std::string>& allowed);

/// Checks `Authorization: Bearer <token>`, in time independent of where the
/// token first differs.
[[nodiscard]] admission check_bearer(const request& req,
                                     std::string_view token);

} // namespace pyro::mcp::http
