// Streamable HTTP: POST /mcp carries one JSON-RPC message; the reply comes
// back as JSON, or as a short SSE stream (progress notifications, then the
// reply) when the client accepts one and the call is a tools/call. GET has
// no server-initiated stream to offer (405); DELETE ends a session.
// Bound to 127.0.0.1 by default; Host and Origin are checked against DNS
// rebinding (http_admission.hpp), and a bearer token is always required:
// the operator's (PYRO_MCP_TOKEN) or one made up at start (bearer_token.hpp).
//
// One thread serves every connection from an epoll loop (HTTP/1.1, kept
// alive, one request at a time per connection), so an idle agent costs a
// file descriptor rather than a thread. A thread per connection, as the
// HTTP library we used before gave, put hundreds of threads on two cores
// when a fleet of sessions pinged at once, each waiting for its request by
// polling every 10 ms. Whatever takes time (tools/call) runs in the
// session's worker actors; what they emit comes back to the loop through a
// queue and an eventfd.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <variant>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caf/send.hpp"

#include "frontends/mcp/bearer_token.hpp"
#include "frontends/mcp/http_admission.hpp"
#include "frontends/mcp/http_request.hpp"
#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/session.hpp"
#include "messages/json_text.hpp"

namespace pyro::mcp {

using nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr auto reply_limit = std::chrono::hours{2};
constexpr auto session_idle_limit = std::chrono::hours{1};
// Advertised in Keep-Alive, so clients drop a connection before we do
// rather than send on one we are closing.
constexpr auto keep_alive_limit = std::chrono::seconds{60};
// A request that stops arriving half way, or a reply the client stops
// reading.
constexpr auto stall_limit = std::chrono::seconds{30};
// After refusing a request whose body we will not read: how long to keep
// swallowing it, so the client reads the refusal instead of a reset.
constexpr auto linger_limit = std::chrono::seconds{2};
constexpr auto tick = std::chrono::milliseconds{500};

constexpr uint32_t read_events = EPOLLIN | EPOLLRDHUP;
constexpr uint32_t write_events = EPOLLOUT;
constexpr uint32_t hangup_events = EPOLLRDHUP;

constexpr uint64_t listener_key = 0;
constexpr uint64_t outbox_key = 1;

std::string new_session_id() {
  static std::random_device rd;
  static std::mt19937_64 gen{(static_cast<uint64_t>(rd()) << 32) ^ rd()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i)
    id += hex[gen() & 15];
  return id;
}

struct response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

response error_response(int status, int code, const std::string& message,
                        const json& id = nullptr) {
  return {
    status, "application/json", dump_json(rpc_error(id, code, message)), {}};
}

// What session actors emit, on their way to the loop thread. The eventfd is
// written only when the queue turns non-empty: a burst of replies costs one
// wake-up.
class outbox {
public:
  struct item {
    uint64_t connection;
    uint64_t ticket;
    std::string text;
  };

  outbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    // nop
  }

  ~outbox() {
    ::close(fd_);
  }

  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  int fd() const {
    return fd_;
  }

  void push(uint64_t connection, uint64_t ticket, const std::string& text) {
    bool wake;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      wake = items_.empty();
      items_.push_back({connection, ticket, text});
    }
    if (wake) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(fd_, &one, sizeof(one));
    }
  }

  // The eventfd is cleared before the queue is taken, so a push racing
  // with this either lands in what is taken or writes the eventfd again.
  std::vector<item> take() {
    uint64_t count;
    [[maybe_unused]] auto n = ::read(fd_, &count, sizeof(count));
    std::vector<item> out;
    std::lock_guard<std::mutex> guard{mtx_};
    out.swap(items_);
    return out;
  }

private:
  int fd_;
  std::mutex mtx_;
  std::vector<item> items_;
};

struct connection {
  enum class state {
    reading,  // reading a request (or idle between requests)
    awaiting, // a request is with its session; its reply is owed
    closing,  // the last response is going out; then close
    lingering // refused mid-body: swallowing the rest for a moment
  };

  uint64_t id = 0;
  int fd = -1;
  // Closed; freed once the loop is done with the events in hand.
  bool dead = false;
  state at = state::reading;
  http::request_reader reader;
  std::string in;
  std::string out;
  size_t out_done = 0;
  uint32_t watching = 0;
  clock_type::time_point last_progress;
  bool continue_sent = false;
  bool peer_closed = false; // the client will send nothing more
  // The owed reply (to a tool call): which session message it answers,
  // whether it goes out as SSE, whether the connection stays open after it.
  uint64_t ticket = 0;
  bool streaming = false;
  bool keep_alive = true;
  clock_type::time_point reply_deadline;

  explicit connection(const http::limits& lim) : reader(lim) {
    // nop
  }
};

class http_server {
public:
  http_server(Pyro& sdk, server_options server, http_options options)
    : sdk_(sdk), server_(std::move(server)), options_(std::move(options)),
      outbox_(std::make_shared<outbox>()) {
    limits_.body_bytes = options_.max_body_bytes;
  }

  ~http_server() {
    for (auto& [id, c] : connections_)
      ::close(c->fd);
    if (listener_ >= 0)
      ::close(listener_);
    if (ep_ >= 0)
      ::close(ep_);
  }

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  int run() {
    raise_descriptor_limit();
    if (!listen_on(options_.host, options_.port)) {
      std::cerr << "pyro mcp: cannot listen on " << options_.host << ":"
                << options_.port << " (is the port in use?)" << std::endl;
      return 6;
    }
    auto port = bound_port();
    allowed_ = http::allowed_authorities(options_.host, port);
    if (options_.bearer_token.empty() && !make_up_token(port))
      return 6;
    // The port actually bound: the one asked for, or the kernel's pick for 0.
    auto shown = options_.host.find(':') != std::string::npos
                   ? "[" + options_.host + "]"
                   : options_.host;
    std::cerr << "pyro mcp: serving http://" << shown << ":" << port << "/mcp"
              << std::endl;
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    add(listener_, EPOLLIN, listener_key);
    add(outbox_->fd(), EPOLLIN, outbox_key);
    std::vector<epoll_event> events(256);
    auto next_tick = clock_type::now() + tick;
    for (;;) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next_tick - clock_type::now())
                    .count();
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                           static_cast<int>(std::max<long>(wait, 0)));
      if (n < 0 && errno != EINTR) {
        std::cerr << "pyro mcp: epoll_wait: " << std::strerror(errno)
                  << std::endl;
        return 6;
      }
      for (int i = 0; i < n; ++i) {
        auto key = events[i].data.u64;
        if (key == listener_key)
          accept_all();
        else if (key == outbox_key)
          deliver_all();
        else if (auto found = connections_.find(key);
                 found != connections_.end() && !found->second->dead)
          on_event(*found->second, events[i].events);
      }
      if (clock_type::now() >= next_tick) {
        on_tick();
        next_tick = clock_type::now() + tick;
      }
      for (auto id : closed_)
        connections_.erase(id);
      closed_.clear();
    }
  }

private:
  int bound_port() const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return options_.port;
    if (addr.ss_family == AF_INET6)
      return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }

  // No token from the operator: one of our own, in a file only our user
  // can read. Said on stderr where it is, never what it is.
  bool make_up_token(int port) {
    auto token = random_token();
    auto file = token_file(sdk_.home(), port);
    auto written = token ? write_token_file(file, *token) : status{token.err()};
    if (!written) {
      std::cerr << "pyro mcp: " << written.err().message << " ("
                << written.err().hint << ")" << std::endl;
      return false;
    }
    options_.bearer_token = *token;
    std::cerr << "pyro mcp: every request needs `Authorization: Bearer "
                 "<token>`; the token is in "
              << file.string()
              << " (mode 0600; set PYRO_MCP_TOKEN to choose one)" << std::endl;
    return true;
  }

  // Each connection holds a descriptor now; the usual soft limit of 1024
  // would refuse the thousandth agent.
  static void raise_descriptor_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
  }

  bool listen_on(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    auto service = std::to_string(port);
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0)
      return false;
    for (auto* a = found; a != nullptr && listener_ < 0; a = a->ai_next) {
      int fd
        = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   a->ai_protocol);
      if (fd < 0)
        continue;
      // SO_REUSEADDR only: SO_REUSEPORT would let any other process of the
      // same user bind this port too and take a share of the connections.
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      // A fleet of agents connecting at once needs a deep backlog; a short
      // one drops SYNs, and each drop is a one-second retransmit.
      if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 4096) == 0)
        listener_ = fd;
      else
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return listener_ >= 0;
  }

  void add(int fd, uint32_t events, uint64_t key) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = key;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      int fd
        = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM) {
          // Out of descriptors: leave the rest in the backlog until a
          // tick, rather than spin on a listener that stays readable.
          pause_accepting(true);
        }
        return;
      }
      // Replies are written whole, but SSE events are small writes that
      // Nagle would hold back until the client's delayed ACK.
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      auto c = std::make_unique<connection>(limits_);
      c->id = next_connection_++;
      c->fd = fd;
      c->last_progress = clock_type::now();
      c->watching = read_events;
      add(fd, c->watching, c->id);
      connections_.emplace(c->id, std::move(c));
    }
  }

  void pause_accepting(bool paused) {
    if (accepting_paused_ == paused)
      return;
    accepting_paused_ = paused;
    epoll_event ev{};
    ev.events = paused ? 0u : static_cast<uint32_t>(EPOLLIN);
    ev.data.u64 = listener_key;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, listener_, &ev);
  }

  // The object stays until the end of the loop's turn, so callers up the
  // stack may still look at it (and see `dead`).
  void close_connection(connection& c) {
    if (c.dead)
      return;
    ::close(c.fd); // also leaves the epoll set
    c.fd = -1;
    c.dead = true;
    closed_.push_back(c.id);
  }

  // What to wait for follows from the state: a request's bytes, room to
  // write, or (while a reply is owed) only the client going away.
  void rewatch(connection& c) {
    uint32_t events = 0;
    bool pending = c.out_done < c.out.size();
    switch (c.at) {
    case connection::state::reading:
      events = pending ? write_events : read_events;
      break;
    case connection::state::awaiting:
      events
        = (pending ? write_events : 0u) | (c.peer_closed ? 0u : hangup_events);
      break;
    case connection::state::closing:
      events = write_events;
      break;
    case connection::state::lingering:
      events = read_events;
      break;
    }
    if (events == c.watching)
      return;
    c.watching = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void on_event(connection& c, uint32_t events) {
    if (events & EPOLLERR) {
      close_connection(c);
      return;
    }
    if (c.at == connection::state::lingering) {
      swallow(c);
      return;
    }
    if (events & (EPOLLOUT | EPOLLHUP)) {
      if (!flush(c))
        return;
      if ((events & EPOLLHUP) && c.out_done < c.out.size()) {
        close_connection(c); // nobody left to write to
        return;
      }
    }
    if (c.at == connection::state::reading) {
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !read_in(c))
        return;
      serve_buffered(c);
      return;
    }
    if (c.at == connection::state::awaiting
        && (events & (EPOLLRDHUP | EPOLLHUP))) {
      // The client sent all it will; the reply still goes out (it may have
      // only shut down its sending side), then the connection ends.
      c.peer_closed = true;
      c.keep_alive = false;
      if (events & EPOLLHUP) {
        close_connection(c);
        return;
      }
      rewatch(c);
    }
  }

  // Reads what has arrived; false if the connection was closed.
  bool read_in(connection& c) {
    char buf[64 * 1024];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        c.last_progress = clock_type::now();
        // Enough for the largest request; more waits in the kernel.
        if (c.in.size() > limits_.body_bytes + limits_.head_bytes)
          return true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (errno == EINTR)
          continue;
        return true;
      }
      if (n < 0) {
        close_connection(c);
        return false;
      }
      c.peer_closed = true;
      return true;
    }
  }

  // Serves the requests that have fully arrived, in order, while nothing
  // else is owed on the connection.
  void serve_buffered(connection& c) {
    while (!c.dead && c.at == connection::state::reading
           && c.out_done == c.out.size()) {
      auto progress = c.reader.parse(c.in);
      if (progress == http::request_reader::progress::more) {
        if (c.peer_closed) {
          close_connection(c);
          return;
        }
        if (c.reader.in_body() && !c.continue_sent
            && c.reader.current().expects_continue()) {
          c.continue_sent = true;
          write_out(c, "HTTP/1.1 100 Continue\r\n\r\n");
        }
        if (!c.dead)
          rewatch(c);
        return;
      }
      if (progress == http::request_reader::progress::error) {
        int status = c.reader.error_status();
        auto res = status == 413
                     ? error_response(413, -32600, "Request body too large")
                     : response{status, "", "", {}};
        c.keep_alive = false;
        respond(c, std::move(res));
        return;
      }
      auto& req = c.reader.current();
      c.keep_alive = req.keep_alive() && !c.peer_closed;
      c.continue_sent = false;
      std::optional<response> res;
      try {
        res = serve(c, req);
      } catch (const std::exception& e) {
        res = error_response(500, -32603,
                             std::string{"Internal error: "} + e.what());
      }
      c.reader.reset();
      if (c.in.empty() && c.in.capacity() > 64 * 1024)
        std::string{}.swap(c.in); // what a 4 MiB request left behind
      if (res)
        respond(c, std::move(*res));
      else if (!c.dead)
        rewatch(c);
    }
  }

  std::string head(int status, bool keep_alive) const {
    std::string h = "HTTP/1.1 " + std::to_string(status) + " "
                    + http::reason_phrase(status) + "\r\n";
    if (keep_alive)
      h += "Keep-Alive: timeout=" + std::to_string(keep_alive_limit.count())
           + "\r\n";
    else
      h += "Connection: close\r\n";
    return h;
  }

  void respond(connection& c, response res) {
    std::string text;
    text.reserve(256 + res.body.size()); // one copy of a large body, not two
    text += head(res.status, c.keep_alive);
    for (const auto& [name, value] : res.headers)
      text += name + ": " + value + "\r\n";
    if (!res.content_type.empty())
      text += "Content-Type: " + res.content_type + "\r\n";
    text += "Content-Length: " + std::to_string(res.body.size()) + "\r\n\r\n";
    text += res.body;
    finish_request(c, std::move(text));
  }

  // The last bytes of a request's answer: afterwards the connection reads
  // its next request, or closes.
  void finish_request(connection& c, std::string text) {
    c.at
      = c.keep_alive ? connection::state::reading : connection::state::closing;
    c.ticket = 0;
    c.streaming = false;
    write_out(c, std::move(text));
  }

  // Queues and sends. Never serves the next request itself (its callers
  // loop), so pipelined requests cannot nest calls without bound.
  void write_out(connection& c, std::string text) {
    if (c.dead)
      return;
    if (c.out_done == c.out.size()) {
      c.out = std::move(text);
      c.out_done = 0;
    } else {
      c.out += text;
    }
    flush(c);
  }

  // Sends what it can; false if the connection was closed.
  bool flush(connection& c) {
    while (c.out_done < c.out.size()) {
      auto n = ::send(c.fd, c.out.data() + c.out_done,
                      c.out.size() - c.out_done, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_done += static_cast<size_t>(n);
        c.last_progress = clock_type::now();
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN) {
        rewatch(c);
        return true;
      }
      close_connection(c);
      return false;
    }
    // Not kept for the next reply: a thousand idle connections would each
    // hold their largest one (a tools/list is some 50 KiB).
    std::string{}.swap(c.out);
    c.out_done = 0;
    if (c.at == connection::state::closing) {
      if (c.reader.started() && !c.peer_closed) {
        // Refused before its body was read: say so, then swallow the body
        // for a moment, or closing with unread bytes would reset the
        // connection under the client before it reads why.
        ::shutdown(c.fd, SHUT_WR);
        c.at = connection::state::lingering;
        c.last_progress = clock_type::now();
        rewatch(c);
        return true;
      }
      close_connection(c);
      return false;
    }
    rewatch(c);
    return true;
  }

  void swallow(connection& c) {
    char buf[64 * 1024];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      close_connection(c);
      return;
    }
  }

  void on_tick() {
    auto now = clock_type::now();
    if (accepting_paused_)
      pause_accepting(false);
    for (auto& [id, c] : connections_) {
      if (c->dead)
        continue;
      auto quiet = now - c->last_progress;
      bool unsent = c->out_done < c->out.size();
      switch (c->at) {
      case connection::state::reading:
        if ((unsent || c->reader.started()) ? quiet > stall_limit
                                            : quiet > keep_alive_limit)
          close_connection(*c);
        break;
      case connection::state::awaiting:
        if (unsent && quiet > stall_limit)
          close_connection(*c);
        else if (now > c->reply_deadline) {
          give_up(*c);
          serve_buffered(*c);
        }
        break;
      case connection::state::closing:
        if (quiet > stall_limit)
          close_connection(*c);
        break;
      case connection::state::lingering:
        if (quiet > linger_limit)
          close_connection(*c);
        break;
      }
    }
    if (now - last_sweep_ > std::chrono::minutes{1}) {
      sweep_idle_sessions(now);
      last_sweep_ = now;
    }
  }

  // The reply never came: a stream just ends, a plain request gets 504.
  void give_up(connection& c) {
    if (c.streaming) {
      finish_request(c, "0\r\n\r\n");
      return;
    }
    respond(c, error_response(504, -32603, "no reply in time"));
  }

  // Clients that vanish without DELETE leave sessions behind; one unused
  // for an hour is ended (its client then gets 404 and initializes again,
  // as the protocol expects).
  void sweep_idle_sessions(clock_type::time_point now) {
    for (auto i = sessions_.begin(); i != sessions_.end();) {
      if (now - i->second.last_used > session_idle_limit) {
        caf::anon_send_exit(i->second.actor, caf::exit_reason::user_shutdown);
        i = sessions_.erase(i);
      } else {
        ++i;
      }
    }
  }

  void deliver_all() {
    for (auto& item : outbox_->take()) {
      auto found = connections_.find(item.connection);
      if (found == connections_.end())
        continue; // the client went away; the message has nowhere to go
      auto& c = *found->second;
      if (c.dead || c.at != connection::state::awaiting
          || c.ticket != item.ticket)
        continue;
      deliver(c, item.text);
      // A request pipelined behind the one just answered.
      serve_buffered(c);
    }
  }

  void deliver(connection& c, const std::string& text) {
    bool reply = is_reply_text(text);
    if (c.streaming) {
      auto event = "event: message\ndata: " + text + "\n\n";
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", event.size());
      auto chunk = size + event + "\r\n";
      if (reply)
        finish_request(c, chunk + "0\r\n\r\n");
      else
        write_out(c, std::move(chunk));
      return;
    }
    // Only the reply: notifications without a stream have nowhere to go.
    if (reply)
      respond(c, response{200, "application/json", text, {}});
  }

  struct session_entry {
    caf::actor actor;
    std::shared_ptr<server_core> core;
    clock_type::time_point last_used;
  };

  // The answer now, or nullopt when it is owed by a session (the
  // connection then awaits it).
  std::optional<response> serve(connection& c, const http::request& req) {
    if (req.path != "/mcp")
      return response{404, "", "", {}};
    if (auto refused = admitted(req))
      return refused;
    if (req.method == "POST")
      return post(c, req);
    if (req.method == "DELETE")
      return remove(req);
    return response{405, "", "", {{"Allow", "POST, DELETE"}}};
  }

  std::optional<response> admitted(const http::request& req) {
    if (auto a = http::check_host_and_origin(req, allowed_); a.status != 0)
      return error_response(a.status, -32600, a.message);
    if (auto a = http::check_bearer(req, options_.bearer_token);
        a.status != 0) {
      auto res = error_response(a.status, -32600, a.message);
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    if (const auto* v = req.header("mcp-protocol-version")) {
      bool known = false;
      for (const char* s : supported_versions)
        known = known || *v == s;
      if (!known)
        return error_response(400, -32600,
                              "Unsupported MCP-Protocol-Version " + *v);
    }
    return std::nullopt;
  }

  std::variant<session_entry*, response>
  find_session(const http::request& req) {
    const auto* id = req.header("mcp-session-id");
    if (id == nullptr)
      return error_response(400, -32600,
                            "Bad Request: Mcp-Session-Id is required");
    auto i = sessions_.find(*id);
    if (i == sessions_.end())
      return error_response(404, -32001, "Session not found");
    i->second.last_used = clock_type::now();
    return &i->second;
  }

  std::optional<response> post(connection& c, const http::request& req) {
    // Bounded (depth, size) before anything parses or walks it.
    auto parsed = parse_message(req.body);
    if (!parsed.ok())
      return response{400, "application/json", dump_json(parsed.error), {}};
    auto& msg = parsed.message;
    std::string method;
    if (msg.is_object())
      if (auto m = msg.find("method"); m != msg.end() && m->is_string())
        method = m->get<std::string>();
    session_entry* entry = nullptr;
    std::string new_id;
    if (method == "initialize") {
      new_id = new_session_id();
      auto core = std::make_shared<server_core>(&sdk_, server_);
      auto actor = spawn_session(sdk_.system(), core);
      entry = &sessions_[new_id];
      *entry = {std::move(actor), std::move(core), clock_type::now()};
    } else {
      auto found = find_session(req);
      if (auto* refused = std::get_if<response>(&found))
        return std::move(*refused);
      entry = std::get<session_entry*>(found);
    }
    // Only a tool call (which runs for as long as it takes) and its
    // cancellation need the session's actor; everything else is answered
    // by the core at once, so here. Through the actor, every ping cost two
    // thread hand-offs, and a thousand of them kept the actor scheduler's
    // threads spinning on the two cores the pings needed. Nothing is
    // reordered that a client could see: the core's state changes only in
    // initialize and logging/setLevel, which this one thread handles in
    // the order they arrive.
    if (method != "tools/call" && method != "notifications/cancelled") {
      server_core::outcome outcome;
      try {
        outcome = entry->core->handle(msg);
      } catch (const std::exception& e) {
        outcome.action = server_core::outcome::reply;
        outcome.message = server_core::internal_error(msg, e.what());
      }
      response res{202, "", "", {}};
      if (outcome.action == server_core::outcome::reply)
        res = {200,
               "application/json",
               outcome.text.empty() ? dump_json(outcome.message)
                                    : std::move(outcome.text),
               {}};
      if (!new_id.empty())
        res.headers.emplace_back("Mcp-Session-Id", new_id);
      return res;
    }
    auto session = entry->actor;
    if (method == "notifications/cancelled" || !msg.contains("id")) {
      post_to_session(
        session, req.body, [](const std::string&) {}, false);
      return response{202, "", "", {}};
    }
    c.at = connection::state::awaiting;
    c.ticket = next_ticket_++;
    c.reply_deadline = clock_type::now() + reply_limit;
    c.streaming = req.http11
                  && req.header_value("accept").find("text/event-stream")
                       != std::string::npos;
    // Only an event stream carries a request (roots/list) to the client
    // while the call is in flight.
    post_to_session(
      session, req.body,
      [box = outbox_, id = c.id, ticket = c.ticket](const std::string& text) {
        box->push(id, ticket, text);
      },
      c.streaming);
    if (c.streaming) {
      auto text = head(200, c.keep_alive);
      text += "Content-Type: text/event-stream\r\n"
              "Cache-Control: no-cache\r\n"
              "Transfer-Encoding: chunked\r\n\r\n";
      write_out(c, std::move(text));
    }
    return std::nullopt;
  }

  response remove(const http::request& req) {
    auto found = find_session(req);
    if (auto* refused = std::get_if<response>(&found))
      return std::move(*refused);
    caf::anon_send_exit(std::get<session_entry*>(found)->actor,
                        caf::exit_reason::user_shutdown);
    sessions_.erase(req.header_value("mcp-session-id"));
    return response{200, "", "", {}};
  }

  Pyro& sdk_;
  server_options server_;
  http_options options_;
  std::vector<std::string> allowed_;
  http::limits limits_;
  std::shared_ptr<outbox> outbox_;
  int listener_ = -1;
  int ep_ = -1;
  bool accepting_paused_ = false;
  uint64_t next_connection_ = 2; // after listener_key and outbox_key
  uint64_t next_ticket_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<connection>> connections_;
  std::vector<uint64_t> closed_;
  std::unordered_map<std::string, session_entry> sessions_;
  clock_type::time_point last_sweep_ = clock_type::now();
};

} // namespace

int serve_http(Pyro& sdk, const server_options& options,
               const http_options& http) {
  return http_server{sdk, options, http}.run();
}

} // namespace pyro::mcp
