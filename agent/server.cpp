#include "agent/server.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/connection.hpp"
#include "agent/ops.hpp"
#include "messages/wire/frame.hpp"
#include "messages/wire/mux.hpp"
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

namespace {

status accept_loop(const agent_context& ctx, int listener, bool once) {
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
    if (once) {
      serve_connection(ctx, fd);
      return {};
    }
    std::thread{[&ctx, fd] {
      serve_connection(ctx, fd);
    }}.detach();
  }
}

status serve_unix(const agent_context& ctx, const std::string& socket_path,
                  bool once) {
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
  return accept_loop(ctx, listener, once);
}

// A listening socket made by whoever started the agent: a parked sandbox
// binds it before the agent exists, so connections queue instead of failing.
status serve_inherited(const agent_context& ctx, const std::string& fd_text,
                       bool once) {
  int fd = std::atoi(fd_text.c_str());
  int listening = 0;
  socklen_t len = sizeof(listening);
  if (fd < 3
      || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0
      || listening == 0)
    return make_error(error_code::invalid_argument,
                      "fd " + fd_text + " is not a listening socket");
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return accept_loop(ctx, fd, once);
}

status serve_vsock(const agent_context& ctx, const std::string& port_text) {
  int port = std::atoi(port_text.c_str());
  int listener = ::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || port <= 0)
    return make_error(error_code::unavailable, "cannot listen on vsock port "
                                                 + port_text + ": "
                                                 + std::strerror(errno));
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = static_cast<unsigned>(port);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listener, 512) != 0)
    return make_error(error_code::unavailable, "cannot listen on vsock port "
                                                 + port_text + ": "
                                                 + std::strerror(errno));
  return accept_loop(ctx, listener, false);
}

// Without udev there is no /dev/virtio-ports/NAME: the port is found by the
// name the host gave it in sysfs.
std::string find_virtio_port(const std::string& name) {
  DIR* dir = ::opendir("/sys/class/virtio-ports");
  if (dir == nullptr)
    return {};
  std::string found;
  while (auto* entry = ::readdir(dir)) {
    std::string port = entry->d_name;
    if (port.rfind("vport", 0) != 0)
      continue;
    std::ifstream in{"/sys/class/virtio-ports/" + port + "/name"};
    std::string port_name;
    if (std::getline(in, port_name) && port_name == name) {
      found = "/dev/" + port;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

status serve_virtio_port(const agent_context& ctx, const std::string& name) {
  std::string device;
  // The port appears shortly after the virtio_console module binds.
  for (int i = 0; i < 500 && device.empty(); ++i) {
    device = find_virtio_port(name);
    if (device.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (device.empty())
    return make_error(error_code::unavailable,
                      "no virtio-serial port named " + name);
  int trunk = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (trunk < 0)
    return make_error(error_code::unavailable,
                      "cannot open " + device + ": " + std::strerror(errno));
  wire::mux_pump::options opts;
  opts.survive_trunk_eof = true;
  opts.on_open = [&ctx](uint32_t) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return -1;
    ++open_connections;
    int fd = pair[1];
    std::thread{[&ctx, fd] {
      serve_connection(ctx, fd);
    }}.detach();
    return pair[0];
  };
  wire::mux_pump pump{trunk, std::move(opts)};
  return pump.run();
}

} // namespace

status serve(const agent_context& ctx, const std::string& address, bool once) {
  auto colon = address.find(':');
  auto scheme = address.substr(0, colon);
  auto rest = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (scheme == "unix" && !rest.empty())
    return serve_unix(ctx, rest, once);
  if (scheme == "vsock")
    return serve_vsock(ctx, rest);
  if (scheme == "fd")
    return serve_inherited(ctx, rest, once);
  if (scheme == "vport" && !rest.empty())
    return serve_virtio_port(ctx, rest);
  return make_error(
    error_code::invalid_argument,
    "cannot listen on '" + address
      + "': expected unix:PATH, vsock:PORT, vport:NAME or fd:N");
}

} // namespace pyro::agent
