#include "messages/wire/vsock_handshake.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace pyro::wire {

namespace {

// "OK " and a 32-bit port fit well within this; a longer line is not
// Firecracker talking.
constexpr size_t max_reply_bytes = 32;

std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else
      out += static_cast<char>(c);
  }
  return out;
}

std::string connect_line(uint32_t port) {
  return "CONNECT " + std::to_string(port) + "\n";
}

// "OK <digits>\n" and nothing else.
bool parse_ok(const std::string& line, uint32_t& host_port) {
  if (line.size() < 5 || line.compare(0, 3, "OK ") != 0 || line.back() != '\n')
    return false;
  uint64_t value = 0;
  for (size_t i = 3; i + 1 < line.size(); ++i) {
    if (line[i] < '0' || line[i] > '9')
      return false;
    value = value * 10 + static_cast<uint64_t>(line[i] - '0');
    if (value > UINT32_MAX)
      return false;
  }
  host_port = static_cast<uint32_t>(value);
  return true;
}

} // namespace

result<uint32_t> vsock_handshake(int fd, uint32_t port,
                                 std::chrono::milliseconds timeout) {
  auto request = connect_line(port);
  auto what = "vsock port " + std::to_string(port);
  for (size_t off = 0; off < request.size();) {
    auto n
      = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return make_error(error_code::unavailable, "cannot send CONNECT for "
                                                   + what + ": "
                                                   + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  // One byte at a time: whatever follows the newline belongs to the
  // caller's protocol and must stay in the socket.
  while (line.empty() || line.back() != '\n') {
    if (line.size() >= max_reply_bytes)
      break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return make_error(error_code::deadline_exceeded,
                        "no answer to CONNECT for " + what + " within "
                          + std::to_string(timeout.count()) + " ms"
                          + (line.empty()
                               ? std::string{}
                               : " (got '" + printable(line) + "' so far)"));
    pollfd pfd{fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR)
      return make_error(error_code::internal,
                        std::string{"poll: "} + std::strerror(errno));
    if (ready <= 0)
      continue;
    char c = 0;
    auto n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error(error_code::unavailable,
                        "reading the answer to CONNECT for " + what + ": "
                          + std::strerror(errno));
    if (n == 0)
      return make_error(
        error_code::unavailable,
        "the VM closed the connection to " + what + " without acknowledging it"
          + (line.empty() ? std::string{}
                          : " (after '" + printable(line) + "')"),
        "nothing in the guest listens on that port yet: is "
        "the guest still booting, or did its agent fail?");
    line += c;
  }
  uint32_t host_port = 0;
  if (!parse_ok(line, host_port))
    return make_error(error_code::internal, "unexpected answer to CONNECT for "
                                              + what + ": '" + printable(line)
                                              + "' (expected 'OK <port>\\n')");
  return host_port;
}

result<int> vsock_connect(const std::string& uds_path, uint32_t port,
                          std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (uds_path.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "vsock socket path is too long (max 107 bytes): "
                        + uds_path);
  std::memcpy(addr.sun_path, uds_path.c_str(), uds_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"socket: "} + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(error_code::unavailable,
                      "cannot connect to the vsock socket " + uds_path + ": "
                        + std::strerror(err));
  }
  auto acked = vsock_handshake(fd, port, timeout);
  if (!acked) {
    ::close(fd);
    auto err = acked.err();
    err.message = uds_path + ": " + err.message;
    return err;
  }
  return fd;
}

} // namespace pyro::wire
