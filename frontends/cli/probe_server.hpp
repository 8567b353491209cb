#pragma once

// A one-page HTTP server on the host's first non-loopback IPv4 address, for
// `pyro demo --network`: a sandbox with egress reaches it the way it would
// reach anything outside, while the host's loopback stays out of its reach.

#include <atomic>
#include <string>
#include <thread>

#include "messages/error.hpp"

namespace pyro::cli {

class probe_server {
public:
  probe_server() = default;
  probe_server(const probe_server&) = delete;
  probe_server& operator=(const probe_server&) = delete;
  ~probe_server();

  /// Listens and serves `body` to every GET until destroyed.
  status start(std::string body);

  [[nodiscard]] const std::string& address() const {
    return address_;
  }

  [[nodiscard]] int port() const {
    return port_;
  }

private:
  void serve();

  std::string body_;
  std::string address_;
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace pyro::cli
