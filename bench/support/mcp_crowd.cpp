#include "bench/support/mcp_crowd.hpp"

#include "bench/support/mcp_client.hpp"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace pyro::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto stall_limit = std::chrono::seconds{60};
// Watched while idle too: a kept-alive connection the server closes is
// noticed, and the session's next request connects again.
constexpr uint32_t readable = EPOLLIN | EPOLLRDHUP;
constexpr uint32_t writable = EPOLLOUT;

struct reply {
  int status = 0; // 0: the connection failed before a whole reply came
  std::string session_id;
  std::string_view body; // valid during the callback only
};

using on_reply = std::function<void(const reply&)>;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

double since_us(clock_type::time_point t) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t)
    .count();
}

// A thousand connections is close to the usual soft limit of 1024.
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct session {
  int fd = -1;
  bool connecting = false;
  bool busy = false;
  bool closing = false; // told Connection: close; waiting for the FIN
  uint32_t watching = 0;
  std::string id; // Mcp-Session-Id
  std::string out;
  size_t out_done = 0;
  std::string in;
  clock_type::time_point began;
  on_reply done;
};

// Sessions and their connections; one request at a time per session.
class crowd {
public:
  crowd(int port, int sessions)
    : port_(port), sessions_(static_cast<size_t>(sessions)) {
    raise_descriptor_limit();
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  }

  ~crowd() {
    for (size_t i = 0; i < sessions_.size(); ++i)
      drop(i);
    ::close(ep_);
  }

  crowd(const crowd&) = delete;
  crowd& operator=(const crowd&) = delete;

  session& at(size_t i) {
    return sessions_[i];
  }

  size_t size() const {
    return sessions_.size();
  }

  std::string post(size_t i, const json& message) const {
    auto body = message.dump();
    return "POST /mcp HTTP/1.1\r\n" + common_headers(i)
           + "Accept: application/json, text/event-stream\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: "
           + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // The session's last request, so the server closes the connection:
  // the side that closes first keeps the port in TIME_WAIT for a minute,
  // and a thousand of this client's ephemeral ports held that way make
  // other programs' binds in that range fail.
  std::string remove(size_t i) const {
    return "DELETE /mcp HTTP/1.1\r\n" + common_headers(i)
           + "Content-Length: 0\r\nConnection: close\r\n\r\n";
  }

  // Starts a request: written at once when the session's connection is
  // open, otherwise as soon as a new one is. Requests made while replies
  // are being handled (the tools/list after a pong) go out once every reply
  // at hand has been read: each write costs more than reading a reply, so
  // writing on the spot would hold back the replies still waiting.
  void send(size_t i, std::string request, on_reply done) {
    auto& s = sessions_[i];
    s.out = std::move(request);
    s.out_done = 0;
    s.done = std::move(done);
    s.busy = true;
    ++in_flight_;
    if (handling_)
      deferred_.push_back(i);
    else
      start(i);
  }

  // Moves every socket until no request is in flight, or nothing has
  // happened for a minute (the requests still open then fail).
  void run() {
    std::vector<epoll_event> events(1024);
    auto last_progress = clock_type::now();
    while (in_flight_ > 0 || closing_ > 0) {
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                           1000);
      if (n < 0 && errno != EINTR)
        break;
      if (n <= 0) {
        if (clock_type::now() - last_progress > stall_limit)
          break;
        continue;
      }
      last_progress = clock_type::now();
      handling_ = true;
      for (int k = 0; k < n; ++k)
        handle(events[k].data.u32, events[k].events);
      handling_ = false;
      auto ready = std::move(deferred_);
      deferred_.clear();
      for (auto i : ready)
        start(i);
    }
    for (size_t i = 0; i < sessions_.size(); ++i)
      if (sessions_[i].busy) {
        drop(i);
        finish(i, reply{});
      }
  }

private:
  // `began` is taken here, as the request leaves.
  void start(size_t i) {
    auto& s = sessions_[i];
    s.began = clock_type::now();
    if (s.closing)
      drop(i);
    if (s.fd < 0 && !connect(i)) {
      finish(i, reply{});
      return;
    }
    write_some(i);
  }

  std::string common_headers(size_t i) const {
    std::string h = "Host: 127.0.0.1:" + std::to_string(port_)
                    + "\r\nAuthorization: Bearer " + mcp_token() + "\r\n";
    const auto& id = sessions_[i].id;
    if (!id.empty())
      h += "Mcp-Session-Id: " + id + "\r\nMCP-Protocol-Version: 2025-11-25\r\n";
    return h;
  }

  bool connect(size_t i) {
    auto& s = sessions_[i];
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0)
      return false;
    int yes = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = ::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (rc < 0 && errno != EINPROGRESS) {
      drop(i);
      return false;
    }
    s.connecting = rc < 0;
    s.watching = s.connecting ? writable : readable;
    epoll_event ev{};
    ev.events = s.watching;
    ev.data.u32 = static_cast<uint32_t>(i);
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
    return true;
  }

  void drop(size_t i) {
    auto& s = sessions_[i];
    if (s.fd >= 0)
      ::close(s.fd); // also leaves the epoll set
    s.fd = -1;
    s.connecting = false;
    if (s.closing) {
      s.closing = false;
      --closing_;
    }
  }

  // Only when it changes: an epoll_ctl per request would be a large share
  // of the client's system calls.
  void watch(size_t i, uint32_t events) {
    auto& s = sessions_[i];
    if (s.watching == events)
      return;
    s.watching = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<uint32_t>(i);
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
  }

  void write_some(size_t i) {
    auto& s = sessions_[i];
    while (s.out_done < s.out.size()) {
      auto n = ::send(s.fd, s.out.data() + s.out_done,
                      s.out.size() - s.out_done, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) {
        watch(i, writable); // still connecting, or the buffer is full
        return;
      }
      if (n <= 0) {
        drop(i);
        finish(i, reply{});
        return;
      }
      s.out_done += static_cast<size_t>(n);
      s.connecting = false;
    }
    watch(i, readable);
  }

  void handle(size_t i, uint32_t events) {
    auto& s = sessions_[i];
    if (!s.busy) {
      drop(i); // an idle connection the server ended, or the FIN awaited
      return;
    }
    if (s.connecting) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        drop(i);
        finish(i, reply{});
        return;
      }
      s.connecting = false;
    }
    if (s.out_done < s.out.size()) {
      write_some(i);
      return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      read_some(i);
  }

  // A reply that arrives whole in one read (nearly all do) is parsed where
  // it was read; only one that arrives in pieces is gathered per session.
  // Gathering every reply cost a fresh 64 KiB buffer per session for the
  // tools/list replies, and page faults were a tenth of the client's time.
  void read_some(size_t i) {
    auto& s = sessions_[i];
    for (;;) {
      auto n = ::recv(s.fd, buf_.data(), buf_.size(), 0);
      if (n > 0) {
        std::string_view chunk{buf_.data(), static_cast<size_t>(n)};
        if (s.in.empty() && complete(i, chunk))
          return;
        s.in.append(chunk);
        if (complete(i, s.in))
          return;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      drop(i); // closed before the whole reply came
      s.in.clear();
      finish(i, reply{});
      return;
    }
  }

  bool complete(size_t i, std::string_view in) {
    reply r;
    bool keep = true;
    if (!parse(in, r, keep))
      return false;
    if (!keep) {
      sessions_[i].closing = true;
      ++closing_;
    }
    finish(i, r);
    auto& s = sessions_[i];
    s.in.clear();
    s.in.shrink_to_fit();
    return true;
  }

  // A whole reply in `in`: status, Mcp-Session-Id and a Content-Length
  // body (what the server sends for everything but SSE, which this client
  // never asks for).
  static bool parse(std::string_view in, reply& r, bool& keep) {
    auto end = in.find("\r\n\r\n");
    if (end == std::string_view::npos || in.substr(0, 9) != "HTTP/1.1 ")
      return false;
    size_t length = 0;
    size_t line = in.find("\r\n") + 2;
    while (line < end) {
      auto next = in.find("\r\n", line);
      auto h = in.substr(line, next - line);
      line = next + 2;
      auto colon = h.find(':');
      if (colon == std::string_view::npos)
        continue;
      auto name = h.substr(0, colon);
      auto value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      if (iequals(name, "Content-Length"))
        length = std::strtoul(std::string{value}.c_str(), nullptr, 10);
      else if (iequals(name, "Mcp-Session-Id"))
        r.session_id = std::string{value};
      else if (iequals(name, "Connection") && iequals(value, "close"))
        keep = false;
    }
    if (in.size() < end + 4 + length)
      return false;
    r.status = std::atoi(std::string{in.substr(9, 3)}.c_str());
    r.body = in.substr(end + 4, length);
    return true;
  }

  void finish(size_t i, const reply& r) {
    auto& s = sessions_[i];
    s.busy = false;
    --in_flight_;
    auto done = std::move(s.done);
    s.done = nullptr;
    if (done)
      done(r);
  }

  int port_;
  int ep_ = -1;
  std::vector<session> sessions_;
  int in_flight_ = 0;
  int closing_ = 0;
  std::vector<char> buf_ = std::vector<char>(256 * 1024);
  bool handling_ = false;
  std::vector<size_t> deferred_;
};

const json initialize{
  {"jsonrpc", "2.0"},
  {"id", 1},
  {"method", "initialize"},
  {"params",
   {{"protocolVersion", "2025-11-25"},
    {"capabilities", json::object()},
    {"clientInfo", {{"name", "pyro-bench"}, {"version", "1"}}}}}};
const json initialized{{"jsonrpc", "2.0"},
                       {"method", "notifications/initialized"}};

// Every session initialized, as a client does it; the sessions that made
// it are marked in `open`.
int open_all(crowd& c, std::vector<bool>& open) {
  int errors = 0;
  open.assign(c.size(), false);
  for (size_t i = 0; i < c.size(); ++i)
    c.send(i, c.post(i, initialize), [&, i](const reply& r) {
      if (r.status != 200 || r.session_id.empty()
          || r.body.find("\"result\"") == std::string::npos) {
        ++errors;
        return;
      }
      c.at(i).id = r.session_id;
      c.send(i, c.post(i, initialized), [&, i](const reply& r) {
        if (r.status == 202)
          open[i] = true;
        else
          ++errors;
      });
    });
  c.run();
  return errors;
}

bool is_pong(const reply& r, int id) {
  auto pong = json::parse(r.body, nullptr, false);
  return r.status == 200 && pong.is_object() && pong.value("id", 0) == id
         && pong.contains("result");
}

} // namespace

crowd_result run_mcp_crowd(const crowd_options& options) {
  crowd c{options.port, options.sessions};
  crowd_result out;
  std::vector<bool> open;
  out.open_errors = open_all(c, open);

  const json ping{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}};
  const json list{{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/list"}};
  // Built beforehand, so sending them all is only their writes.
  std::vector<std::string> pings(c.size());
  for (size_t i = 0; i < c.size(); ++i)
    if (open[i])
      pings[i] = c.post(i, ping);
  out.ping_us.reserve(c.size());
  auto first_sent = clock_type::now();
  for (size_t i = 0; i < c.size(); ++i) {
    if (!open[i])
      continue;
    c.send(i, std::move(pings[i]), [&, i](const reply& r) {
      if (!is_pong(r, 2)) {
        ++out.ping_errors;
        return;
      }
      out.ping_us.push_back(since_us(c.at(i).began));
      c.send(i, c.post(i, list), [&](const reply& r) {
        // Checked without parsing 50 KiB a thousand times on the cores
        // the server needs.
        if (r.status != 200
            || r.body.find("\"result\":{\"tools\":[") == std::string::npos)
          ++out.list_errors;
      });
    });
  }
  out.send_ms = since_us(first_sent) / 1000;
  c.run();
  out.burst_ms = since_us(first_sent) / 1000;

  for (size_t i = 0; i < c.size(); ++i)
    if (open[i])
      c.send(i, c.remove(i), [&](const reply& r) {
        if (r.status != 200)
          ++out.close_errors;
      });
  c.run();
  return out;
}

std::vector<double> lone_pings(int port, int warmup, int count) {
  crowd c{port, 1};
  std::vector<bool> open;
  if (open_all(c, open) != 0 || !open[0])
    return {};
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (int k = 0; k < warmup + count; ++k) {
    bool ok = false;
    c.send(0, c.post(0, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}}),
           [&](const reply& r) {
             ok = is_pong(r, 2);
             if (ok && k >= warmup)
               us.push_back(since_us(c.at(0).began));
           });
    c.run();
    if (!ok)
      return {};
  }
  c.send(0, c.remove(0), [](const reply&) {});
  c.run();
  return us;
}

} // namespace pyro::bench
