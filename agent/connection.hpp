#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::agent {

/// One client connection as a request handler sees it: the upload stream
/// that followed the request, and the reply (plain or streamed).
class connection {
public:
  explicit connection(int fd) : fd_(fd) {
    // nop
  }

  /// The next chunk of the request's upload; empty at its end.
  result<std::string> next_upload_chunk();

  /// Reads and drops whatever is left of the upload.
  status drain_upload();

  status reply(const nlohmann::json& result);

  /// Sends the reply header announcing a stream; then `send`, then `end`.
  status begin_stream(const nlohmann::json& result);
  status send(std::string_view bytes);
  status end_stream();

  status reply_error(const error& err);

  [[nodiscard]] bool replied() const {
    return replied_;
  }

  void set_request(int64_t id, bool has_upload) {
    id_ = id;
    upload_open_ = has_upload;
    replied_ = false;
    streaming_ = false;
  }

  [[nodiscard]] int fd() const {
    return fd_;
  }

private:
  status flush();

  int fd_;
  int64_t id_ = 0;
  bool upload_open_ = false;
  bool replied_ = false;
  bool streaming_ = false;
  std::string pending_;
};

} // namespace pyro::agent
