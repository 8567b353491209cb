#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::wire {

/// Supplies the next chunk of an upload; an empty string ends it.
using chunk_source = std::function<result<std::string>()>;
/// Receives a chunk of a download.
using chunk_sink = std::function<status(std::string_view)>;

/// A blocking client for one agent, reached through a Unix socket. A call
/// takes the idle connection if there is one (so sequential calls skip the
/// connect) and opens another otherwise, so calls from many threads never
/// interleave; a connection that saw an error is closed, never reused.
class agent_client {
public:
  /// A `vsock_port` above 0 means the socket is a Firecracker hybrid vsock:
  /// every new connection first asks for that guest port (`CONNECT`, see
  /// vsock_handshake.hpp) within `connect_timeout`. An `expected_peer`
  /// above 0 is the pid that must have put the socket in listening state
  /// (SO_PEERCRED): a connection to anything else is closed before a byte
  /// is sent.
  explicit agent_client(std::string socket_path,
                        std::chrono::milliseconds connect_timeout
                        = std::chrono::seconds{5},
                        int vsock_port = 0, int expected_peer = 0);
  ~agent_client();

  agent_client(const agent_client&) = delete;
  agent_client& operator=(const agent_client&) = delete;

  /// Sends `{"op": op, ...args}` (plus an upload stream when `upload` is
  /// set) and returns the reply's `result`. An error reply becomes the
  /// error it names; a reply announcing a stream feeds `download`.
  result<nlohmann::json> call(std::string_view op, nlohmann::json args,
                              const chunk_source* upload = nullptr,
                              const chunk_sink* download = nullptr,
                              std::chrono::milliseconds timeout
                              = std::chrono::minutes{10});

  [[nodiscard]] const std::string& socket_path() const {
    return socket_path_;
  }

private:
  result<int> connect() const;

  result<nlohmann::json> call_on(int fd, std::string_view op,
                                 nlohmann::json args,
                                 const chunk_source* upload,
                                 const chunk_sink* download,
                                 std::chrono::milliseconds timeout);

  std::string socket_path_;
  std::chrono::milliseconds connect_timeout_;
  int vsock_port_;
  int expected_peer_;
  std::mutex idle_mtx_;
  int idle_fd_ = -1;
};

} // namespace pyro::wire
