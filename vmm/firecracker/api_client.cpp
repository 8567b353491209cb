#include "vmm/firecracker/api_client.hpp"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace pyro::vmm::firecracker {

namespace {

constexpr size_t max_header_bytes = 64u << 10;
constexpr size_t max_body_bytes = 16u << 20;

class socket_fd {
public:
  explicit socket_fd(int fd) : fd_(fd) {
    // nop
  }
  ~socket_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  [[nodiscard]] int get() const {
    return fd_;
  }

private:
  int fd_;
};

bool digit(char c) {
  return c >= '0' && c <= '9';
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string encode(const api_request& r) {
  std::string out = r.method + " " + r.path + " HTTP/1.1\r\n"
                    + "Host: localhost\r\nAccept: application/json\r\n";
  std::string body;
  if (!r.body.is_null()) {
    body = r.body.dump();
    out += "Content-Type: application/json\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n";
  }
  return out + "\r\n" + body;
}

// Status line and headers of a response; the body is read separately.
struct head {
  int status = 0;
  bool has_length = false;
  size_t content_length = 0;
  bool chunked = false;
};

result<head> parse_head(const std::string& text) {
  auto line_end = text.find("\r\n");
  auto status_line = text.substr(0, line_end);
  head h;
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12
      || status_line[8] != ' ' || !digit(status_line[9])
      || !digit(status_line[10]) || !digit(status_line[11]))
    return make_error(error_code::internal, "not an HTTP status line: '"
                                              + status_line.substr(0, 80)
                                              + "'");
  h.status = std::stoi(status_line.substr(9, 3));
  for (size_t pos = line_end + 2; pos < text.size();) {
    auto end = text.find("\r\n", pos);
    if (end == std::string::npos)
      end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = lower(trim(line.substr(0, colon)));
    auto value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      if (value.empty()
          || value.find_first_not_of("0123456789") != std::string::npos
          || value.size() > 9)
        return make_error(error_code::internal,
                          "bad Content-Length '" + value + "'");
      h.has_length = true;
      h.content_length = std::stoul(value);
    } else if (name == "transfer-encoding" && lower(value) != "identity") {
      h.chunked = true;
    }
  }
  return h;
}

} // namespace

api_client::api_client(std::filesystem::path socket,
                       std::chrono::milliseconds timeout)
  : socket_(std::move(socket)), timeout_(timeout) {
  // nop
}

result<api_response> api_client::send(const api_request& request) const {
  const auto path = socket_.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "Firecracker API socket path is too long (max 107 "
                      "bytes): "
                        + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  socket_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return make_error(error_code::resource_exhausted,
                      std::string{"socket: "} + std::strerror(errno));
  auto fail = [&](error_code code, const std::string& what) {
    return make_error(code, request.name() + " to " + path + ": " + what);
  };
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
      != 0)
    return fail(error_code::unavailable,
                std::string{"cannot connect: "} + std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto wait_for = [&](short events) -> status {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return fail(error_code::deadline_exceeded,
                    "no complete answer within "
                      + std::to_string(timeout_.count()) + " ms");
      pollfd pfd{fd.get(), events, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready > 0)
        return {};
      if (ready < 0 && errno != EINTR)
        return fail(error_code::internal,
                    std::string{"poll: "} + std::strerror(errno));
    }
  };
  auto out = encode(request);
  for (size_t off = 0; off < out.size();) {
    if (auto ok = wait_for(POLLOUT); !ok)
      return ok.err();
    auto n = ::send(fd.get(), out.data() + off, out.size() - off,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n < 0)
      return fail(error_code::unavailable,
                  std::string{"cannot send: "} + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  std::string in;
  auto read_more = [&]() -> status {
    if (auto ok = wait_for(POLLIN); !ok)
      return ok;
    char buf[4096];
    auto n = ::recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return {};
    if (n < 0)
      return fail(error_code::unavailable,
                  std::string{"cannot read: "} + std::strerror(errno));
    if (n == 0)
      return fail(error_code::unavailable,
                  in.empty() ? "the connection closed without an answer"
                             : "the connection closed mid-answer");
    in.append(buf, static_cast<size_t>(n));
    return {};
  };
  size_t head_end = std::string::npos;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > max_header_bytes)
      return fail(error_code::internal, "the answer's headers are too long");
    if (auto ok = read_more(); !ok)
      return ok.err();
  }
  auto h = parse_head(in.substr(0, head_end));
  if (!h)
    return fail(error_code::internal, h.err().message);
  if (h->chunked)
    return fail(error_code::internal,
                "a chunked answer, which this client does not read");
  api_response response;
  response.status = h->status;
  bool bodiless = h->status == 204 || h->status == 304 || h->status < 200;
  if (bodiless || !h->has_length)
    return response;
  if (h->content_length > max_body_bytes)
    return fail(error_code::internal,
                "an answer of " + std::to_string(h->content_length)
                  + " bytes, more than this client accepts");
  auto body_start = head_end + 4;
  while (in.size() - body_start < h->content_length)
    if (auto ok = read_more(); !ok)
      return ok.err();
  response.body = in.substr(body_start, h->content_length);
  return response;
}

result<nlohmann::json> api_client::call(const api_request& request) const {
  auto response = send(request);
  if (!response)
    return response.err();
  auto body = response->body.empty()
                ? nlohmann::json{}
                : nlohmann::json::parse(response->body, nullptr, false);
  if (response->status >= 200 && response->status < 300) {
    if (body.is_discarded())
      return make_error(error_code::internal,
                        "Firecracker answered " + request.name()
                          + " with a body that is not JSON: "
                          + response->body.substr(0, 200));
    return body;
  }
  std::string fault;
  if (body.is_object() && body.contains("fault_message")
      && body["fault_message"].is_string())
    fault = body["fault_message"].get<std::string>();
  else if (!response->body.empty())
    fault = response->body.substr(0, 500);
  else
    fault = "no fault_message";
  return make_error(response->status >= 400 && response->status < 500
                      ? error_code::failed_precondition
                      : error_code::internal,
                    "Firecracker refused " + request.name() + " (HTTP "
                      + std::to_string(response->status) + "): " + fault,
                    "runtime/firecracker.log in the workspace directory has "
                    "Firecracker's own log");
}

} // namespace pyro::vmm::firecracker
