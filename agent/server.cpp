#include "agent/server.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/connection.hpp"
#include "agent/ops.hpp"
#include "messages/wire/frame.hpp"
#include "messages/wire/request.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

// A connection that sends nothing for this long is dropped.
constexpr int idle_timeout_ms = 15 * 60 * 1000;
// Requests are small; only replies carry bulk in their header.
constexpr size_t max_request_bytes = 1u << 20;
constexpr int max_connections = 4096;

std::atomic<int> open_connections{0};

} // namespace

void serve_connection(const agent_context& ctx, int fd) {
  connection conn{fd};
  for (;;) {
    auto f = wire::read_frame(fd, idle_timeout_ms);
    if (!f) {
      // Hung up, stalled, or framed nonsense: say so if we can, then drop.
      if (f.err().code != error_code::unavailable)
        static_cast<void>(conn.reply_error(f.err()));
      break;
    }
    if (f->kind != wire::frame_kind::header
        || f->body.size() > max_request_bytes) {
      static_cast<void>(conn.reply_error(
        make_error(error_code::invalid_argument,
                   "expected a request header frame of at most 1 MiB")));
      break;
    }
    auto req = wire::parse_request(f->body);
    if (!req) {
      static_cast<void>(conn.reply_error(req.err()));
      break;
    }
    conn.set_request(req->id, req->upload);
    auto handler = find_handler(req->op);
    status outcome;
    if (handler == nullptr) {
      outcome = make_error(error_code::invalid_argument,
                           "unknown op '" + req->op + "'",
                           "`hello` lists the operations");
    } else {
      // A field of the wrong type must not take the agent down.
      try {
        outcome = handler(ctx, req->body, conn);
      } catch (const json::exception& e) {
        outcome = make_error(error_code::invalid_argument,
                             std::string{"malformed request: "} + e.what());
      } catch (const std::exception& e) {
        outcome = make_error(error_code::internal, e.what());
      }
    }
    if (!outcome) {
      static_cast<void>(conn.drain_upload());
      if (!conn.reply_error(outcome.err()))
        break;
    } else if (!conn.replied()) {
      static_cast<void>(conn.reply(json::object()));
    }
  }
  ::close(fd);
  --open_connections;
}

status serve(const agent_context& ctx, const std::string& socket_path) {
  // Bind under a temporary name and rename once listening, so the socket
  // path never exists while connections would still be refused.
  auto staged = socket_path + ".tmp";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (staged.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, staged.c_str(), staged.size() + 1);
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0)
    return make_error(error_code::internal,
                      std::string{"socket: "} + std::strerror(errno));
  ::unlink(staged.c_str());
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listener, 512) != 0)
    return make_error(error_code::internal, "cannot listen on " + socket_path
                                              + ": " + std::strerror(errno));
  ::chmod(staged.c_str(), 0600);
  if (::rename(staged.c_str(), socket_path.c_str()) != 0)
    return make_error(error_code::internal, "cannot publish " + socket_path
                                              + ": " + std::strerror(errno));
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE
          || errno == ENFILE)
        continue;
      return make_error(error_code::internal,
                        std::string{"accept: "} + std::strerror(errno));
    }
    if (open_connections.load() >= max_connections) {
      ::close(fd);
      continue;
    }
    ++open_connections;
    std::thread{[&ctx, fd] {
      serve_connection(ctx, fd);
    }}.detach();
  }
}

} // namespace pyro::agent
