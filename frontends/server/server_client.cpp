#include "frontends/server/server_client.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontends/server/server_files.hpp"
#include "frontends/server/server_protocol.hpp"
#include "frontends/version.hpp"
#include "messages/json_text.hpp"
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

// A connection to the server, or an invalid fd when none listens. A socket
// whose listener is another user (not root) is treated as no server: this
// home's state is never handed to it.
unique_fd connect_to(const fs::path& home) {
  auto addr = sys::unix_address(socket_path(home).string());
  if (!addr)
    return unique_fd{};
  unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0
      || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr)
           != 0
      || !sys::peer_is_own_user(fd.get()))
    return unique_fd{};
  return fd;
}

json client_facts() {
  return {{"version", std::string{version()}},
          {"env", serving_environment(environ)}};
}

// One request on a connected socket: progress lines relayed, then the
// result or the error the server sent; nullopt when the server declined the
// call untouched (it was set up with another environment or version).
std::optional<result<json>> exchange(int fd, const std::string& op, json args,
                                     const progress_sink& progress) {
  json request{{"op", op}, {"args", std::move(args)}, {"client", client_facts()}};
  if (auto sent
      = wire::write_frame(fd, wire::frame_kind::header, encode_message(request));
      !sent)
    return result<json>{sent.err()};
  for (;;) {
    auto frame = wire::read_frame(fd);
    if (!frame)
      return result<json>{make_error(
        error_code::unavailable,
        "the pyro server went away during the call: " + frame.err().message,
        "retry; `pyro server status` says whether it runs")};
    if (frame->kind == wire::frame_kind::data) {
      if (progress)
        progress(frame->body);
      continue;
    }
    auto reply = decode_message(frame->body);
    if (!reply.is_object())
      return result<json>{make_error(error_code::internal,
                                     "the pyro server sent a malformed reply")};
    if (reply.value(declined_key, false))
      return std::nullopt;
    if (reply.value("ok", false))
      return result<json>{reply.value("result", json{})};
    return result<json>{error_from_json(reply)};
  }
}

// A request the server always serves (its own operations).
result<json> ask(int fd, const char* op) {
  auto out = exchange(fd, op, json::object(), {});
  if (!out)
    return make_error(error_code::internal, "the pyro server declined " + std::string{op});
  return std::move(*out);
}

// Forks a detached `pyro server run` in a session of its own; the
// intermediate child exits at once, so nothing is left to reap. Returns the
// server's pid.
result<pid_t> spawn_server(const fs::path& home) {
  std::error_code ec;
  fs::create_directories(home, ec);
  // The runtime binary lies beside this one (the thin `pyro` or itself).
  auto runtime = fs::read_symlink("/proc/self/exe", ec).parent_path()
                 / "pyro-runtime";
  unique_fd log{::open(log_path(home).c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)};
  int told[2] = {-1, -1};
  if (::pipe2(told, O_CLOEXEC) != 0)
    return make_error(error_code::internal,
                      std::string{"cannot start the server: "}
                        + std::strerror(errno));
  unique_fd told_read{told[0]};
  unique_fd told_write{told[1]};
  pid_t child = ::fork();
  if (child < 0)
    return make_error(error_code::internal,
                      std::string{"cannot fork the server: "}
                        + std::strerror(errno));
  if (child == 0) {
    ::setsid();
    pid_t server = ::fork();
    if (server != 0) {
      static_cast<void>(::write(told_write.get(), &server, sizeof server));
      ::_exit(0);
    }
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    if (log.get() >= 0) {
      ::dup2(log.get(), 1);
      ::dup2(log.get(), 2);
    }
    // Nothing of the caller's but the log: a pipe the caller's own caller
    // waits on (for its end of file) must not live on in a daemon.
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::setenv("PYRO_HOME", home.c_str(), 1);
    ::execl(runtime.c_str(), "pyro-runtime", "server", "run",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  told_write = unique_fd{};
  pid_t server = -1;
  auto n = ::read(told_read.get(), &server, sizeof server);
  ::waitpid(child, nullptr, 0);
  if (n != sizeof server || server <= 0)
    return make_error(error_code::internal, "cannot start the server");
  return server;
}

void make_absolute(json& value, const fs::path& cwd, bool after_equals) {
  if (!value.is_string())
    return;
  auto text = value.get<std::string>();
  auto at = after_equals ? text.find('=') : std::string::npos;
  auto head = at == std::string::npos ? std::string{} : text.substr(0, at + 1);
  auto path = at == std::string::npos ? text : text.substr(at + 1);
  if (!path.empty() && path.front() != '/')
    value = head + (cwd / path).lexically_normal().string();
}

} // namespace

json absolute_host_paths(const contract::operation& op, json args,
                         const fs::path& cwd) {
  for (const auto& p : op.params) {
    if (p.host_path == contract::host_access::none)
      continue;
    auto it = args.find(std::string{p.name});
    if (it == args.end())
      continue;
    if (it->is_array()) {
      for (auto& item : *it) {
        if (item.is_object() && !p.host_path_member.empty()) {
          auto member = item.find(std::string{p.host_path_member});
          if (member != item.end())
            make_absolute(*member, cwd, false);
        } else {
          // NAME=PATH lists (`--secret-file`) name the path after '='.
          make_absolute(item, cwd, true);
        }
      }
    } else {
      make_absolute(*it, cwd, false);
    }
  }
  return args;
}

server_use server_use_from_environment() {
  const char* setting = std::getenv("PYRO_SERVER");
  std::string value = setting ? setting : "";
  return value == "off"    ? server_use::off
         : value == "auto" ? server_use::start
                           : server_use::if_running;
}

std::optional<result<json>> call_server(const fs::path& home,
                                        const contract::operation& op,
                                        json args,
                                        const progress_sink& progress,
                                        bool start_if_missing) {
  auto fd = connect_to(home);
  if (fd.get() < 0 && start_if_missing && start_server(home))
    fd = connect_to(home);
  if (fd.get() < 0)
    return std::nullopt;
  std::error_code ec;
  auto cwd = fs::current_path(ec);
  return exchange(fd.get(), std::string{op.method},
                  absolute_host_paths(op, std::move(args), cwd), progress);
}

result<json> server_status(const fs::path& home) {
  auto fd = connect_to(home);
  if (fd.get() < 0)
    return make_error(error_code::unavailable,
                      "no pyro server runs for " + home.string(),
                      "`pyro server start` starts one");
  return ask(fd.get(), status_op);
}

result<json> start_server(const fs::path& home) {
  if (auto running = server_status(home))
    return running;
  // Racing starters take turns: the first starts one, the rest find it.
  std::error_code ec;
  fs::create_directories(home, ec);
  auto turn
    = sys::file_lock::acquire(starting_path(home), std::chrono::seconds{15});
  if (auto running = server_status(home))
    return running;
  auto spawned = spawn_server(home);
  if (!spawned)
    return spawned.err();
  // Until it answers; a server that ended (another won the race, or it
  // could not listen) is given a moment for the winner to answer.
  int grace = 25;
  for (int i = 0; i < 500 && grace > 0; ++i) {
    if (auto up = server_status(home))
      return up;
    if (::kill(*spawned, 0) != 0)
      --grace;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return make_error(error_code::unavailable,
                    "the pyro server did not come up within 10 s",
                    "see " + log_path(home).string());
}

result<json> stop_server(const fs::path& home) {
  auto fd = connect_to(home);
  if (fd.get() < 0)
    return json{{"stopped", false}, {"running", false}};
  auto said = ask(fd.get(), stop_op);
  if (!said)
    return said.err();
  for (int i = 0; i < 1500 && connect_to(home).get() >= 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  return json{{"stopped", true}, {"pid", said->value("pid", 0)}};
}

} // namespace pyro::server
