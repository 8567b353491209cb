#pragma once

// Stand-ins for what a Firecracker host has and this one lacks: a guest
// agent (the real pyro-agent in host mode on a Unix socket), Firecracker's
// hybrid vsock listener, and its API server, each serving from threads of
// the test process.

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/temp_dir.hpp"

namespace pyro::test {

inline int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  return fd;
}

inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void write_all(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += static_cast<size_t>(n);
  }
}

/// Reads up to and including the first "\n" (byte by byte, like a careful
/// server), or "" at EOF.
inline std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (line.size() < 256 && ::recv(fd, &c, 1, 0) == 1) {
    line += c;
    if (c == '\n')
      break;
  }
  return line;
}

/// Sets an environment variable for one scope.
class scoped_env {
public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

/// The real pyro-agent, as a host process serving a temporary root.
struct test_agent {
  temp_dir dir;
  std::string socket = (dir.path() / "agent.sock").string();
  pid_t pid = -1;

  test_agent() {
    std::filesystem::create_directories(dir.path() / "root" / "workspace");
    pid = ::fork();
    if (pid == 0) {
      ::execl(PYRO_AGENT_BIN, PYRO_AGENT_BIN, "--listen",
              ("unix:" + socket).c_str(), "--root",
              (dir.path() / "root").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 1000 && !std::filesystem::exists(socket); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    REQUIRE(std::filesystem::exists(socket));
  }

  ~test_agent() {
    kill(SIGKILL);
  }

  /// Reaps the agent if it ended; true if it is gone.
  bool exited() {
    if (pid <= 0)
      return true;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      return true;
    }
    return false;
  }

  void kill(int sig) {
    if (pid <= 0)
      return;
    ::kill(pid, sig);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

/// A listening Unix socket whose accept loop runs on a thread of its own
/// until stop() (or destruction); each connection goes to `on_accept`.
class accept_loop {
public:
  accept_loop(const std::string& path, std::function<void(int)> on_accept)
    : listener_(listen_unix(path)), on_accept_(std::move(on_accept)),
      thread_([this] { run(); }) {
    // nop
  }

  ~accept_loop() {
    stop();
  }

  accept_loop(const accept_loop&) = delete;
  accept_loop& operator=(const accept_loop&) = delete;

  /// Returns once no connection is being accepted any more.
  void stop() {
    if (stopped_.exchange(true))
      return;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }

private:
  void run() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0)
        return;
      on_accept_(fd);
    }
  }

  int listener_;
  std::function<void(int)> on_accept_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

/// Firecracker's host side of the hybrid vsock: reads "CONNECT <port>\n"
/// and then answers as `reply` says; records every CONNECT line.
class fake_vsock {
public:
  /// Returns the line to send back ("" closes the connection, "-" stays
  /// silent); after an "OK" line the stream is relayed to `relay_to` when
  /// set.
  using reply_fn = std::function<std::string(const std::string& line)>;

  fake_vsock(std::string path, reply_fn reply, std::string relay_to = {})
    : reply_(std::move(reply)), relay_to_(std::move(relay_to)),
      accepting_(path, [this](int fd) {
        std::lock_guard<std::mutex> guard{mtx_};
        open_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
      }) {
    // nop
  }

  ~fake_vsock() {
    stop_ = true;
    accepting_.stop(); // no new workers from here on
    std::vector<int> open;
    std::vector<std::thread> workers;
    {
      // Not held while joining: a worker may still need it.
      std::lock_guard<std::mutex> guard{mtx_};
      open.swap(open_);
      workers.swap(workers_);
    }
    for (int fd : open)
      ::shutdown(fd, SHUT_RDWR);
    for (auto& t : workers)
      t.join();
    for (int fd : open)
      ::close(fd);
  }

  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> guard{mtx_};
    return lines_;
  }

private:
  void serve(int fd) {
    auto line = read_line(fd);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      lines_.push_back(line);
    }
    auto answer = reply_(line);
    if (answer == "-") {
      pollfd pfd{fd, POLLIN, 0};
      while (!stop_ && ::poll(&pfd, 1, 20) == 0) {
        // silent until the test ends
      }
      return;
    }
    if (answer.empty()) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    write_all(fd, answer);
    if (relay_to_.empty())
      return;
    int guest = connect_unix(relay_to_);
    if (guest < 0) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    relay(fd, guest);
    ::close(guest);
  }

  void relay(int a, int b) {
    char buf[65536];
    for (;;) {
      pollfd pfds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(pfds, 2, 50) < 0 || stop_)
        break;
      bool done = false;
      for (int i = 0; i < 2; ++i) {
        if (pfds[i].revents == 0)
          continue;
        auto n = ::recv(pfds[i].fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          done = true;
          break;
        }
        write_all(i == 0 ? b : a, std::string{buf, static_cast<size_t>(n)});
      }
      if (done)
        break;
    }
    ::shutdown(a, SHUT_RDWR);
  }

  reply_fn reply_;
  std::string relay_to_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::vector<int> open_;
  std::vector<std::thread> workers_;
  std::vector<std::string> lines_;
  accept_loop accepting_; // last: it runs on everything above
};

/// One request as a fake API server received it.
struct received_request {
  std::string method;
  std::string path;
  std::string headers;
  std::string body;
};

/// Firecracker's API server as far as the HTTP goes: keep-alive
/// connections, answers from `answer`, written in pieces of `chunk` bytes.
class fake_api_server {
public:
  struct answer_t {
    int status = 204;
    std::string body;
    bool never = false;   ///< read the request, then never answer
    bool hang_up = false; ///< read the request, then close
  };
  using answer_fn = std::function<answer_t(const received_request&)>;

  fake_api_server(std::string path, answer_fn answer, size_t chunk = 1 << 16)
    : answer_(std::move(answer)), chunk_(chunk),
      accepting_(path, [this](int fd) {
        ++connections_;
        serve(fd);
        ::close(fd);
      }) {
    // nop
  }

  ~fake_api_server() {
    stop_ = true;
    accepting_.stop();
  }

  std::vector<received_request> requests() {
    std::lock_guard<std::mutex> guard{mtx_};
    return requests_;
  }

  /// Connections accepted so far.
  int connections() const {
    return connections_;
  }

private:
  // One connection, served until the client closes it.
  void serve(int fd) {
    std::string buf;
    char tmp[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        auto n = ::recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
          return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      received_request r;
      auto first = buf.substr(0, buf.find("\r\n"));
      r.method = first.substr(0, first.find(' '));
      r.path = first.substr(first.find(' ') + 1,
                            first.rfind(' ') - first.find(' ') - 1);
      r.headers = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t length = 0;
      auto cl = r.headers.find("Content-Length: ");
      if (cl != std::string::npos)
        length = std::stoul(r.headers.substr(cl + 16));
      while (buf.size() < length) {
        auto n = ::recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
          return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      r.body = buf.substr(0, length);
      buf.erase(0, length);
      auto a = answer_(r);
      {
        std::lock_guard<std::mutex> guard{mtx_};
        requests_.push_back(r);
      }
      if (a.hang_up)
        return;
      if (a.never) {
        pollfd pfd{fd, POLLIN, 0};
        while (!stop_ && ::poll(&pfd, 1, 20) == 0) {
          // until the client gives up
        }
        return;
      }
      std::string out = "HTTP/1.1 " + std::to_string(a.status)
                        + " \r\nServer: Firecracker API\r\n"
                          "Connection: keep-alive\r\n";
      if (a.status != 204)
        out += "Content-Type: application/json\r\nContent-Length: "
               + std::to_string(a.body.size()) + "\r\n";
      out += "\r\n" + a.body;
      for (size_t off = 0; off < out.size(); off += chunk_) {
        write_all(fd, out.substr(off, chunk_));
        if (chunk_ < out.size())
          std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
    }
  }

  answer_fn answer_;
  size_t chunk_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mtx_;
  std::vector<received_request> requests_;
  accept_loop accepting_; // last: it runs on everything above
};

} // namespace pyro::test
