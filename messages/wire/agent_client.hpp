#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::wire {

/// Supplies the next chunk of an upload; an empty string ends it.
using chunk_source = std::function<result<std::string>()>;
/// Receives a chunk of a download.
using chunk_sink = std::function<status(std::string_view)>;

/// A blocking client for one agent, reached through a Unix socket. Each
/// call uses its own connection, so calls from many threads never
/// interleave and a failed call never poisons the next.
class agent_client {
public:
  explicit agent_client(std::string socket_path,
                        std::chrono::milliseconds connect_timeout
                        = std::chrono::seconds{5});

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

  std::string socket_path_;
  std::chrono::milliseconds connect_timeout_;
};

} // namespace pyro::wire
