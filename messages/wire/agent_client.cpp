#include "messages/wire/agent_client.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "messages/wire/frame.hpp"
#include "messages/wire/vsock_handshake.hpp"

namespace pyro::wire {

namespace {

std::atomic<uint64_t> next_id{1};

// Requests that may run twice without harm: only these are retried when an
// idle connection turns out to be closed.
bool idempotent(std::string_view op) {
  return op == "hello" || op == "stat" || op == "list" || op == "read"
         || op == "manifest" || op == "export";
}

// Whoever listens on the socket is who its peer credentials name; a path
// redirected to another listener shows another pid.
status check_peer(int fd, int expected, const std::string& path) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return make_error(error_code::unavailable,
                      "cannot read who serves " + path + ": "
                        + std::strerror(errno));
  if (cred.pid == expected)
    return {};
  return make_error(error_code::unavailable,
                    "refusing the agent socket " + path + ": it is served by "
                      "process " + std::to_string(cred.pid)
                      + ", not the sandbox's agent (process "
                      + std::to_string(expected) + ")",
                    "stop and start the workspace to get a fresh agent");
}

} // namespace

agent_client::agent_client(std::string socket_path,
                           std::chrono::milliseconds connect_timeout,
                           int vsock_port, int expected_peer)
  : socket_path_(std::move(socket_path)), connect_timeout_(connect_timeout),
    vsock_port_(vsock_port), expected_peer_(expected_peer) {
  // nop
}

agent_client::~agent_client() {
  if (idle_fd_ >= 0)
    ::close(idle_fd_);
}

result<int> agent_client::connect() const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "agent socket path is too long: " + socket_path_);
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  for (;;) {
    // Non-blocking: an agent that stopped accepting fills its backlog, and
    // a blocking connect would then wait in the kernel for ever instead of
    // failing with EAGAIN within the deadline.
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      return make_error(error_code::resource_exhausted,
                        std::string{"socket: "} + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      if (expected_peer_ > 0)
        if (auto peer = check_peer(fd, expected_peer_, socket_path_); !peer) {
          ::close(fd);
          return peer.err();
        }
      if (vsock_port_ <= 0)
        return fd;
      auto acked = vsock_handshake(fd, static_cast<uint32_t>(vsock_port_),
                                   connect_timeout_);
      if (acked)
        return fd;
      ::close(fd);
      auto err = acked.err();
      err.message
        = "cannot reach the agent at " + socket_path_ + ": " + err.message;
      return err;
    }
    int err = errno;
    ::close(fd);
    // A busy backlog (EAGAIN) is worth a retry; a missing socket is not.
    if ((err != EAGAIN && err != EINTR)
        || std::chrono::steady_clock::now() >= deadline)
      return make_error(error_code::unavailable,
                        "cannot reach the agent at " + socket_path_ + ": "
                          + std::strerror(err),
                        "is the workspace running? `pyro workspace status` "
                        "tells");
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
}

result<nlohmann::json> agent_client::call(std::string_view op,
                                          nlohmann::json args,
                                          const chunk_source* upload,
                                          const chunk_sink* download,
                                          std::chrono::milliseconds timeout) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> guard{idle_mtx_};
    std::swap(fd, idle_fd_);
  }
  bool reused = fd >= 0;
  if (!reused) {
    auto fresh = connect();
    if (!fresh)
      return fresh.err();
    fd = *fresh;
  }
  auto out = call_on(fd, op, args, upload, download, timeout);
  // An idle connection the agent dropped fails before anything ran: retry
  // once on a fresh one.
  if (!out && reused && out.err().code == error_code::unavailable
      && idempotent(op)) {
    ::close(fd);
    auto fresh = connect();
    if (!fresh)
      return fresh.err();
    fd = *fresh;
    out = call_on(fd, op, std::move(args), upload, download, timeout);
  }
  bool clean = out
               || (out.err().code != error_code::unavailable
                   && out.err().code != error_code::deadline_exceeded
                   && out.err().code != error_code::internal);
  std::lock_guard<std::mutex> guard{idle_mtx_};
  if (clean && idle_fd_ < 0)
    idle_fd_ = fd;
  else
    ::close(fd);
  return out;
}

result<nlohmann::json>
agent_client::call_on(int fd, std::string_view op, nlohmann::json args,
                      const chunk_source* upload, const chunk_sink* download,
                      std::chrono::milliseconds timeout) {
  auto id = next_id++;
  args["op"] = op;
  args["id"] = id;
  if (upload != nullptr)
    args["upload"] = true;
  auto header
    = args.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (auto sent = write_frame(fd, frame_kind::header, header); !sent)
    return sent.err();
  if (upload != nullptr) {
    for (;;) {
      auto chunk = (*upload)();
      if (!chunk)
        return chunk.err();
      if (chunk->empty())
        break;
      for (size_t off = 0; off < chunk->size(); off += max_chunk_bytes) {
        auto piece = std::string_view{*chunk}.substr(off, max_chunk_bytes);
        if (auto sent = write_frame(fd, frame_kind::data, piece); !sent)
          return sent.err();
      }
    }
    if (auto sent = write_frame(fd, frame_kind::end, {}); !sent)
      return sent.err();
  }
  auto ms = static_cast<int>(
    std::min<int64_t>(timeout.count(), std::numeric_limits<int>::max()));
  auto reply = read_frame(fd, ms);
  if (!reply)
    return reply.err();
  if (reply->kind != frame_kind::header)
    return make_error(error_code::internal,
                      "the agent replied with a data frame first");
  auto j = nlohmann::json::parse(reply->body, nullptr, false);
  auto flag = [&](const char* key) {
    auto i = j.find(key);
    return i != j.end() && i->is_boolean() && i->get<bool>();
  };
  if (!j.is_object())
    return make_error(error_code::internal,
                      "the agent's reply is not a JSON object");
  if (!flag("ok"))
    return error_from_json(j);
  if (flag("stream")) {
    for (;;) {
      auto f = read_frame(fd, ms);
      if (!f)
        return f.err();
      if (f->kind == frame_kind::end)
        break;
      if (f->kind == frame_kind::header) { // a failure part-way through
        auto tail = nlohmann::json::parse(f->body, nullptr, false);
        return error_from_json(tail);
      }
      if (download != nullptr)
        if (auto taken = (*download)(f->body); !taken)
          return taken.err();
    }
  }
  auto body = j.find("result");
  if (body == j.end() || !body->is_object())
    return nlohmann::json::object();
  return *body;
}

} // namespace pyro::wire
