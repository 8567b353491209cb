#include "frontends/cli/probe_server.hpp"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pyro::cli {

namespace {

std::string first_external_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return {};
  std::string found;
  for (auto* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET
        || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
      continue;
    char text[INET_ADDRSTRLEN];
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)))
      found = text;
  }
  ::freeifaddrs(list);
  return found;
}

} // namespace

probe_server::~probe_server() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
  if (fd_ >= 0)
    ::close(fd_);
}

status probe_server::start(std::string body) {
  body_ = std::move(body);
  address_ = first_external_ipv4();
  if (address_.empty())
    return make_error(error_code::unavailable,
                      "this host has no non-loopback IPv4 address to serve "
                      "the network probe on");
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address_.c_str(), &addr.sin_addr);
  socklen_t len = sizeof(addr);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::listen(fd_, 8) != 0
      || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return make_error(error_code::unavailable,
                      std::string{"cannot listen for the network probe: "}
                        + std::strerror(errno));
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread{[this] {
    serve();
  }};
  return {};
}

void probe_server::serve() {
  auto reply = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
               "Content-Length: "
               + std::to_string(body_.size()) + "\r\n\r\n" + body_;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1)
      continue;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0)
      continue;
    // The whole request first: closing with unread bytes would reset the
    // connection and lose the reply.
    std::string request;
    char buf[1024];
    pollfd c{client, POLLIN, 0};
    while (request.find("\r\n\r\n") == std::string::npos
           && ::poll(&c, 1, 2000) == 1) {
      auto n = ::read(client, buf, sizeof(buf));
      if (n <= 0)
        break;
      request.append(buf, static_cast<size_t>(n));
    }
    static_cast<void>(::send(client, reply.data(), reply.size(), MSG_NOSIGNAL));
    ::shutdown(client, SHUT_WR);
    while (::poll(&c, 1, 500) == 1 && ::read(client, buf, sizeof(buf)) > 0) {
    }
    ::close(client);
  }
}

} // namespace pyro::cli
