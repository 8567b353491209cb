#include "frontends/mcp/http_admission.hpp"

#include <algorithm>
#include <climits>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include "frontends/mcp/http_request.hpp"

namespace pyro::mcp::http {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// `host` as it appears in an authority: IPv6 addresses in brackets.
std::string authority_host(std::string_view host) {
  if (host.find(':') != std::string_view::npos && host.front() != '[')
    return "[" + std::string{host} + "]";
  return std::string{host};
}

bool is_ipv4_loopback(std::string_view host) {
  in_addr a{};
  return ::inet_pton(AF_INET, std::string{host}.c_str(), &a) == 1
         && (ntohl(a.s_addr) >> 24) == 127;
}

void add_interface_addresses(std::vector<std::string>& hosts, bool ipv6) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return;
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr)
      continue;
    char text[INET6_ADDRSTRLEN] = {};
    auto family = i->ifa_addr->sa_family;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    } else if (family == AF_INET6 && ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      // A link-local address needs a zone in a URL: no client sends one.
      if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr))
        continue;
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    hosts.push_back(text);
  }
  ::freeifaddrs(list);
}

// The one header of that name: nullptr when absent, and `duplicate` set
// when there are several.
const std::string* only_header(const request& req, std::string_view name,
                               bool& duplicate) {
  const std::string* found = nullptr;
  duplicate = false;
  for (const auto& [key, value] : req.headers) {
    if (key != name)
      continue;
    if (found != nullptr)
      duplicate = true;
    found = &value;
  }
  return found;
}

bool allowed_authority(const std::string& authority,
                       const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), authority) != allowed.end();
}

// `host[:port]` with the default port made explicit, or "" when `text` is
// not an authority (userinfo, a path, an unclosed bracket, a bad port).
std::string authority_with_port(std::string_view text,
                                std::string_view default_port) {
  if (text.empty() || text.find_first_of("@/?#\\ \t") != std::string_view::npos)
    return {};
  std::string_view host = text;
  std::string_view port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return {};
    host = text.substr(0, close + 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return {};
      port = rest.substr(1);
    } else {
      port = default_port;
    }
  } else {
    auto colon = text.find(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    } else {
      port = default_port;
    }
  }
  if (host.empty() || port.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(),
                      [](char c) { return c >= '0' && c <= '9'; })
      || std::stoi(std::string{port}) > 65535)
    return {};
  return lower(host) + ":" + std::string{port};
}

} // namespace

std::vector<std::string> allowed_authorities(std::string_view bound_host,
                                             int port) {
  auto bound = lower(bound_host);
  if (bound.size() > 1 && bound.front() == '[' && bound.back() == ']')
    bound = bound.substr(1, bound.size() - 2);
  std::vector<std::string> hosts;
  if (bound == "0.0.0.0" || bound == "::" || bound.empty()) {
    hosts = {"localhost", "127.0.0.1"};
    if (bound != "0.0.0.0")
      hosts.push_back("::1");
    add_interface_addresses(hosts, bound != "0.0.0.0");
    char name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0')
      hosts.push_back(lower(name));
  } else {
    hosts = {bound};
    if (bound == "localhost") {
      hosts.push_back("127.0.0.1");
      hosts.push_back("::1");
    } else if (bound == "::1" || is_ipv4_loopback(bound)) {
      hosts.push_back("localhost");
    }
  }
  std::vector<std::string> out;
  for (const auto& h : hosts) {
    auto a = authority_host(h) + ":" + std::to_string(port);
    if (!allowed_authority(a, out))
      out.push_back(std::move(a));
  }
  return out;
}

admission check_host_and_origin(const request& req,
                                const std::vector<std::string>& allowed) {
  bool duplicate = false;
  const auto* host = only_header(req, "host", duplicate);
  if (host == nullptr || host->empty())
    return {400, "Bad Request: a Host header is required"};
  if (duplicate)
    return {400, "Bad Request: more than one Host header"};
  auto authority = authority_with_port(*host, "80");
  if (authority.empty())
    return {400, "Bad Request: Host '" + *host + "' is not host:port"};
  if (!allowed_authority(authority, allowed))
    return {403, "Forbidden: Host '" + *host + "' is not allowed"};
  const auto* origin = only_header(req, "origin", duplicate);
  if (origin == nullptr)
    return {};
  if (duplicate)
    return {403, "Forbidden: more than one Origin header"};
  // A browser's Origin: scheme "://" host [":" port], nothing after.
  constexpr std::string_view scheme = "http://";
  auto from_origin = lower(origin->substr(0, scheme.size())) == scheme
                       ? authority_with_port(
                         std::string_view{*origin}.substr(scheme.size()), "80")
                       : std::string{};
  if (from_origin.empty() || !allowed_authority(from_origin, allowed))
    return {403, "Forbidden: Origin '" + *origin + "' is not allowed"};
  return {};
}

admission check_bearer(const request& req, std::string_view token) {
  bool duplicate = false;
  const auto* value = only_header(req, "authorization", duplicate);
  constexpr std::string_view scheme = "bearer ";
  bool ok = value != nullptr && !duplicate && value->size() > scheme.size()
            && lower(value->substr(0, scheme.size())) == scheme;
  std::string_view given
    = ok ? std::string_view{*value}.substr(scheme.size()) : std::string_view{};
  // Every byte compared whatever the first difference, so the time taken
  // does not tell an attacker how much of a guess was right.
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(token[i]
                                       ^ (i < given.size() ? given[i] : 0));
  if (ok && diff == 0 && !token.empty())
    return {};
  return {401, "Unauthorized: a bearer token is required"};
}

} // namespace pyro::mcp::http
