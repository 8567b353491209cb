#include "vmm/qemu/qmp_client.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace pyro::vmm {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

result<qmp_client> qmp_client::connect(const std::filesystem::path& socket,
                                       std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = socket.string();
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "QMP socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0
        && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr)
             == 0) {
      qmp_client client{fd};
      auto greeting = client.read_message(deadline);
      if (!greeting)
        return greeting.err();
      if (!greeting->contains("QMP"))
        return make_error(error_code::unavailable,
                          "no QMP greeting on " + path);
      if (auto caps = client.execute("qmp_capabilities"); !caps)
        return caps.err();
      return client;
    }
    if (fd >= 0)
      ::close(fd);
    if (clock_type::now() >= deadline)
      return make_error(error_code::deadline_exceeded,
                        "QEMU's QMP socket " + path + " did not answer");
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

qmp_client::qmp_client(qmp_client&& other) noexcept
  : fd_(other.fd_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

qmp_client& qmp_client::operator=(qmp_client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    other.fd_ = -1;
  }
  return *this;
}

qmp_client::~qmp_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

result<json> qmp_client::read_message(clock_type::time_point deadline) {
  for (;;) {
    auto newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      auto line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded())
        return make_error(error_code::unavailable,
                          "QMP sent something that is not JSON: " + line);
      return j;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (left.count() <= 0)
      return make_error(error_code::deadline_exceeded, "QMP did not answer");
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
      return make_error(error_code::unavailable,
                        std::string{"poll: "} + std::strerror(errno));
    if (!(pfd.revents & (POLLIN | POLLHUP)))
      continue;
    char chunk[4096];
    auto n = ::read(fd_, chunk, sizeof chunk);
    if (n <= 0)
      return make_error(error_code::unavailable, "QEMU closed its QMP socket");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

result<json> qmp_client::execute(const std::string& command, json arguments,
                                 std::chrono::milliseconds timeout) {
  json request{{"execute", command}};
  if (!arguments.is_null())
    request["arguments"] = std::move(arguments);
  auto text = request.dump() + "\n";
  if (::send(fd_, text.data(), text.size(), MSG_NOSIGNAL)
      != static_cast<ssize_t>(text.size()))
    return make_error(error_code::unavailable, "cannot send QMP " + command
                                                 + ": " + std::strerror(errno));
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto message = read_message(deadline);
    if (!message)
      return message.err();
    if (message->contains("return"))
      return message->at("return");
    if (message->contains("error"))
      return make_error(error_code::unavailable,
                        "QMP " + command + " failed: "
                          + message->at("error").value("desc", std::string{}));
    // An event: not the answer.
  }
}

} // namespace pyro::vmm
