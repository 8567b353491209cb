#include "frontends/server/runtime_server.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/sandbox_pool.hpp"
#include "frontends/contract/contract.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "frontends/server/server_files.hpp"
#include "frontends/server/server_protocol.hpp"
#include "frontends/version.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/file_lock.hpp"
#include "messages/sys/unique_fd.hpp"
#include "messages/sys/unix_socket.hpp"
#include "messages/wire/frame.hpp"

extern char** environ;

namespace pyro::server {

namespace fs = std::filesystem;
using nlohmann::json;
using sys::unique_fd;

namespace {

std::atomic<bool> stop_requested{false};

void on_stop_signal(int) {
  stop_requested = true;
}

result<unique_fd> listen_on(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec); // a dead server's; the lock says none runs
  auto addr = sys::unix_address(path.string());
  if (!addr)
    return addr.err();
  unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  // Born 0600: no moment at which another user could connect.
  auto old_mask = ::umask(077);
  int bound
    = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr);
  ::umask(old_mask);
  if (fd.get() < 0 || bound != 0 || ::listen(fd.get(), 128) != 0)
    return make_error(error_code::internal, "cannot listen on " + path.string()
                                              + ": " + std::strerror(errno));
  return fd;
}

uint64_t rss_kib() {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

class runtime_server {
public:
  runtime_server(const server_options& options, Pyro& sdk)
    : options_(options), sdk_(sdk), started_at_(sys::unix_now()) {
    struct stat st {};
    if (::stat(options_.home.c_str(), &st) == 0) {
      home_inode_ = st.st_ino;
      home_device_ = st.st_dev;
    }
  }

  int serve(int listener) {
    auto last_busy = std::chrono::steady_clock::now();
    while (!stop_requested) {
      pollfd pfd{listener, POLLIN, 0};
      int ready = ::poll(&pfd, 1, 200);
      if (in_flight_ > 0)
        last_busy = std::chrono::steady_clock::now();
      if (ready > 0) {
        int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          ++in_flight_;
          last_busy = std::chrono::steady_clock::now();
          std::thread{[this, client] { handle(unique_fd{client}); }}.detach();
        }
        continue;
      }
      if (options_.idle.count() > 0 && in_flight_ == 0
          && std::chrono::steady_clock::now() - last_busy > options_.idle) {
        spdlog::info("idle for {} s: exiting", options_.idle.count());
        break;
      }
      if (!home_still_there()) {
        spdlog::info("{} was removed: exiting", options_.home.string());
        break;
      }
    }
    // New callers find no socket from here on (and start a new server, or
    // serve themselves); calls in flight finish, their clients wait.
    std::error_code ec;
    fs::remove(socket_path(options_.home), ec);
    ::shutdown(listener, SHUT_RDWR);
    for (int i = 0; i < 3000 && in_flight_ > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    return 0;
  }

private:
  // The home this server serves is the directory it found at start; once
  // that is gone (removed, or replaced) nothing is left to serve.
  bool home_still_there() const {
    struct stat st {};
    return ::stat(options_.home.c_str(), &st) == 0 && st.st_ino == home_inode_
           && st.st_dev == home_device_;
  }

  void handle(unique_fd fd) {
    auto reply = answer(fd.get());
    static_cast<void>(wire::write_frame(fd.get(), wire::frame_kind::header,
                                        encode_message(reply)));
    --in_flight_;
  }

  json answer(int fd) {
    // The same user, or root: nobody else reaches this home's state.
    if (!sys::peer_is_own_user(fd))
      return failure(make_error(error_code::failed_precondition,
                                "this pyro server serves its own user only"));
    auto frame = wire::read_frame(fd, 30000);
    if (!frame)
      return failure(frame.err());
    auto request = decode_message(frame->body);
    if (!request.is_object() || !request.contains("op"))
      return failure(make_error(error_code::invalid_argument,
                                "a server request is {\"op\", \"args\"}"));
    auto number = ++requests_;
    auto op = request.value("op", std::string{});
    if (op == status_op)
      return success(status());
    if (op == stop_op) {
      stop_requested = true;
      return success(json{{"stopping", true}, {"pid", ::getpid()}});
    }
    if (auto mismatch = client_mismatch(request.value("client", json{}))) {
      // Not served differently: the caller serves the call itself.
      spdlog::info("declined a call: {}", mismatch->message);
      return json{{declined_key, true}};
    }
    const auto* operation = contract::find_method(op);
    if (operation == nullptr || !dispatchable(*operation))
      return failure(make_error(error_code::invalid_argument,
                                "the server has no operation '" + op + "'"));
    std::mutex writing;
    auto progress = [&](const std::string& line) {
      std::lock_guard<std::mutex> guard{writing};
      static_cast<void>(wire::write_frame(fd, wire::frame_kind::data, line));
    };
    auto args = request.value("args", json::object());
    if (operation->method != "exec_workspace")
      return settle(dispatch(sdk_, *operation, args, progress));
    // A caller that goes away (Ctrl-C, kill) takes its command with it:
    // nobody is left to read what it prints.
    auto tag = "server-" + std::to_string(number);
    args[cancel_tag_key] = tag;
    int finished[2] = {-1, -1};
    if (::pipe2(finished, O_CLOEXEC) != 0)
      return settle(dispatch(sdk_, *operation, args, progress));
    unique_fd finished_read{finished[0]};
    unique_fd finished_write{finished[1]};
    std::thread watcher{[&] {
      watch_caller(fd, finished_read.get(),
                   args.value("workspace_id", std::string{}), tag);
    }};
    auto out = dispatch(sdk_, *operation, args, progress);
    finished_write = unique_fd{}; // wakes the watcher: the call is over
    watcher.join();
    return settle(std::move(out));
  }

  static json settle(result<json> out) {
    return out ? success(std::move(*out)) : failure(out.err());
  }

  // Waits for the call to finish (`finished` reads end of file) or the
  // caller to hang up, and then cancels the exec.
  void watch_caller(int fd, int finished, const std::string& workspace_id,
                    const std::string& tag) {
    pollfd pfds[2] = {{finished, POLLIN, 0}, {fd, POLLRDHUP, 0}};
    while (::poll(pfds, 2, -1) < 0 && errno == EINTR)
      continue;
    if (pfds[0].revents != 0
        || (pfds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0)
      return;
    // The exec may not have reached the agent yet: try a few times.
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto r = sdk_.cancel_exec(workspace_id, tag);
      if (!r || r->value("cancelled", false))
        return;
      pollfd again{finished, POLLIN, 0};
      if (::poll(&again, 1, 100) > 0)
        return; // the exec ended by itself meanwhile
    }
  }

  // What the server took from its own environment must be what the caller
  // would have used: a call is never served with another cache or backend.
  std::optional<error> client_mismatch(const json& client) const {
    if (client.value("version", std::string{version()}) != version())
      return make_error(error_code::failed_precondition,
                        "the running pyro server is version "
                          + std::string{version()} + ", this pyro is "
                          + client.value("version", std::string{}),
                        "run `pyro server stop`; the next call starts a "
                        "server of this version");
    auto theirs = client.value("env", json::object());
    auto mine = serving_environment(environ);
    if (theirs != mine) {
      std::string differs;
      for (const auto* side : {&theirs, &mine})
        for (const auto& [name, value] : side->items())
          if (theirs.value(name, json()) != mine.value(name, json()))
            differs = name;
      return make_error(error_code::failed_precondition,
                        "the running pyro server (pid "
                          + std::to_string(::getpid()) + ") was started with "
                          "another " + differs,
                        "run `pyro server stop` to let the next call start "
                        "one with this environment");
    }
    return std::nullopt;
  }

  json status() {
    auto listed = sdk_.list_workspaces();
    return {{"pid", ::getpid()},
            {"version", std::string{version()}},
            {"pyro_home", options_.home.string()},
            {"socket", socket_path(options_.home).string()},
            {"started_at", started_at_},
            {"uptime_seconds", sys::unix_now() - started_at_},
            {"requests", requests_.load()},
            {"in_flight", in_flight_.load() - 1}, // not counting this one
            {"workspaces", listed ? listed->size() : 0},
            {"idle_exit_seconds", options_.idle.count()},
            {"rss_kib", rss_kib()}};
  }

  static json success(json result) {
    return {{"ok", true}, {"result", std::move(result)}};
  }

  static json failure(const error& err) {
    auto j = to_json(err);
    j["ok"] = false;
    return j;
  }

  server_options options_;
  Pyro& sdk_;
  double started_at_;
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> requests_{0};
  ino_t home_inode_ = 0;
  dev_t home_device_ = 0;
};

} // namespace

std::chrono::seconds idle_from_environment() {
  if (const char* v = std::getenv("PYRO_SERVER_IDLE_SECONDS"); v && *v)
    return std::chrono::seconds{std::strtoll(v, nullptr, 10)};
  return std::chrono::seconds{600};
}

int run_server(const server_options& options) {
  std::error_code ec;
  fs::create_directories(options.home, ec);
  auto lock = sys::file_lock::acquire(lock_path(options.home),
                                      std::chrono::milliseconds{0});
  if (!lock) {
    spdlog::info("another pyro server holds {}", lock_path(options.home).string());
    return 0;
  }
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &stop, nullptr);
  ::sigaction(SIGINT, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  pyro_options sdk_options;
  sdk_options.home = options.home;
  sdk_options.sandbox_pool = sandbox_pool_target(1);
  Pyro sdk{sdk_options};
  auto listener = listen_on(socket_path(options.home));
  if (!listener) {
    spdlog::error("{}", listener.err().message);
    return 1;
  }
  spdlog::info("pyro server {} (pid {}) serving {}", version(), ::getpid(),
               socket_path(options.home).string());
  return runtime_server{options, sdk}.serve(listener->get());
}

} // namespace pyro::server
