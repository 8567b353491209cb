#pragma once

// HTTP/1.1 requests as the MCP transport reads them off a connection: the
// request line, the headers, and a body framed by Content-Length or by the
// chunked transfer coding. Strict on purpose: whatever leaves doubt about
// where a request ends (two different lengths, a length beside chunked,
// folded header lines, stray CR, LF or control bytes) is refused rather
// than guessed at, so no proxy in front can read the stream differently.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pyro::mcp::http {

struct request {
  std::string method;
  /// The target's path, without its query.
  std::string path;
  bool http11 = true;
  /// Names in lower case, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header of that (lower-case) name, or nullptr.
  [[nodiscard]] const std::string* header(std::string_view name) const;

  /// The first header of that name, or "".
  [[nodiscard]] std::string header_value(std::string_view name) const;

  /// Whether the connection may carry another request after this one
  /// (HTTP/1.1 without `Connection: close`; HTTP/1.0 connections close).
  [[nodiscard]] bool keep_alive() const;

  /// Whether the client waits for `100 Continue` before sending its body.
  [[nodiscard]] bool expects_continue() const;
};

struct limits {
  /// Request line and headers together (and a chunked body's trailers).
  size_t head_bytes = 64 * 1024;
  size_t header_count = 100;
  size_t body_bytes = 4u << 20;
};

/// Reads the requests of one connection, one after another.
class request_reader {
public:
  explicit request_reader(limits lim = {});

  enum class progress {
    more,  // the request has not fully arrived
    done,  // the whole request is in current()
    error, // refused with error_status(); the connection cannot go on
  };

  /// Parses what it can of `in`, erasing the bytes it has used. Bytes past
  /// the end of a request stay in `in` for the next one.
  progress parse(std::string& in);

  [[nodiscard]] request& current() {
    return req_;
  }

  /// 400, 413, 431, 501 or 505 after `progress::error`.
  [[nodiscard]] int error_status() const {
    return error_;
  }

  /// Whether the head has been read and the body is still to come (the
  /// moment to answer `Expect: 100-continue`).
  [[nodiscard]] bool in_body() const;

  /// Whether any part of a request has been received.
  [[nodiscard]] bool started() const;

  /// Ready for the connection's next request.
  void reset();

private:
  enum class phase { head, body, chunk_size, chunk_data, chunk_end, trailers };

  progress fail(int status);
  progress parse_chunked(std::string& in);

  limits lim_;
  phase at_ = phase::head;
  request req_;
  size_t scanned_ = 0;
  size_t length_ = 0;
  size_t chunk_left_ = 0;
  size_t trailer_bytes_ = 0;
  bool started_ = false;
  int error_ = 0;
};

/// "OK", "Not Found" and so on ("" for codes this server never sends).
const char* reason_phrase(int status);

} // namespace pyro::mcp::http
