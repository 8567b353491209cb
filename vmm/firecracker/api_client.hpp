#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::vmm::firecracker {

/// One call of Firecracker's REST API (src/firecracker/swagger/firecracker.yaml
/// in Firecracker's sources): a null `body` sends none.
struct api_request {
  std::string method;
  std::string path;
  nlohmann::json body;

  /// "PUT /drives/rootfs": how errors name the request.
  [[nodiscard]] std::string name() const {
    return method + " " + path;
  }
};

/// What the API answered: the status code and the raw body.
struct api_response {
  int status = 0;
  std::string body;
};

/// HTTP/1.1 to Firecracker's API socket, one connection per request.
/// Firecracker keeps connections alive and answers 204 without any
/// Content-Length, so a response ends where its headers say, never at EOF;
/// a response without Content-Length (other than 204) has no body. Chunked
/// replies are refused: Firecracker does not send them.
class api_client {
public:
  explicit api_client(std::filesystem::path socket,
                      std::chrono::milliseconds timeout
                      = std::chrono::seconds{10});

  /// Sends one request and returns whatever status came back.
  /// `unavailable` when the socket cannot be reached or closes early,
  /// `deadline_exceeded` after `timeout`, `internal` for a reply that is
  /// not HTTP.
  [[nodiscard]] result<api_response> send(const api_request& request) const;

  /// Sends one request and expects a 2xx: the parsed JSON body (null for
  /// none). Any other status is an error naming the request and quoting
  /// Firecracker's `fault_message`: `failed_precondition` for 4xx (the
  /// VMM refused this configuration or this phase), `internal` otherwise.
  [[nodiscard]] result<nlohmann::json> call(const api_request& request) const;

  [[nodiscard]] const std::filesystem::path& socket() const {
    return socket_;
  }

private:
  std::filesystem::path socket_;
  std::chrono::milliseconds timeout_;
};

} // namespace pyro::vmm::firecracker
