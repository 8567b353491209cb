#pragma once

// A QEMU Machine Protocol client over the guest's QMP Unix socket: JSON
// lines, a greeting, capabilities negotiation, then commands answered by
// {"return": ...} or {"error": ...}, with asynchronous events in between
// (skipped here).

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

class qmp_client {
public:
  /// Connects (retrying until `timeout`, QEMU creates the socket as it
  /// starts) and negotiates capabilities.
  static result<qmp_client> connect(const std::filesystem::path& socket,
                                    std::chrono::milliseconds timeout);

  qmp_client(qmp_client&& other) noexcept;
  qmp_client& operator=(qmp_client&& other) noexcept;
  qmp_client(const qmp_client&) = delete;
  qmp_client& operator=(const qmp_client&) = delete;
  ~qmp_client();

  /// Runs one command; its "return" value, or its error as `unavailable`.
  result<nlohmann::json>
  execute(const std::string& command, nlohmann::json arguments = nullptr,
          std::chrono::milliseconds timeout = std::chrono::seconds{10});

private:
  explicit qmp_client(int fd) : fd_(fd) {
    // nop
  }

  result<nlohmann::json>
  read_message(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

} // namespace pyro::vmm
