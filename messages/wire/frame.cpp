#include "messages/wire/frame.hpp"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pyro::wire {

namespace {

bool known_kind(uint8_t k) {
  return k == 'H' || k == 'D' || k == 'E';
}

status write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_error(error_code::unavailable,
                        std::string{"connection lost while writing: "}
                          + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

status read_all(int fd, char* data, size_t size, int timeout_ms) {
  while (size > 0) {
    if (timeout_ms >= 0) {
      pollfd pfd{fd, POLLIN, 0};
      int ready = ::poll(&pfd, 1, timeout_ms);
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready == 0)
        return make_error(error_code::deadline_exceeded,
                          "the peer sent nothing for "
                            + std::to_string(timeout_ms) + " ms");
    }
    auto n = ::read(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_error(error_code::unavailable,
                        std::string{"connection lost while reading: "}
                          + std::strerror(errno));
    }
    if (n == 0)
      return make_error(error_code::unavailable, "the peer hung up");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

} // namespace

result<std::pair<frame_kind, uint32_t>> parse_prefix(const uint8_t* p) {
  if (!known_kind(p[0]))
    return make_error(error_code::invalid_argument,
                      "unknown frame kind byte " + std::to_string(p[0]));
  uint32_t length = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16)
                    | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
  auto kind = static_cast<frame_kind>(p[0]);
  uint32_t cap
    = kind == frame_kind::header ? max_header_bytes : max_chunk_bytes;
  if (length > cap)
    return make_error(error_code::resource_exhausted,
                      "frame of " + std::to_string(length)
                        + " bytes exceeds the limit of " + std::to_string(cap));
  if (kind == frame_kind::end && length != 0)
    return make_error(error_code::invalid_argument,
                      "an end frame must be empty");
  return std::pair{kind, length};
}

result<frame> decode_frame(std::string_view buffer, size_t& consumed) {
  consumed = 0;
  if (buffer.size() < frame_prefix_bytes)
    return make_error(error_code::failed_precondition, "need more bytes");
  auto prefix = parse_prefix(reinterpret_cast<const uint8_t*>(buffer.data()));
  if (!prefix)
    return prefix.err();
  auto [kind, length] = *prefix;
  if (buffer.size() - frame_prefix_bytes < length)
    return make_error(error_code::failed_precondition, "need more bytes");
  consumed = frame_prefix_bytes + length;
  return frame{kind, std::string{buffer.substr(frame_prefix_bytes, length)}};
}

std::string encode_frame(frame_kind kind, std::string_view body) {
  std::string out;
  out.reserve(frame_prefix_bytes + body.size());
  auto n = static_cast<uint32_t>(body.size());
  out += static_cast<char>(kind);
  out += static_cast<char>((n >> 24) & 0xFF);
  out += static_cast<char>((n >> 16) & 0xFF);
  out += static_cast<char>((n >> 8) & 0xFF);
  out += static_cast<char>(n & 0xFF);
  out.append(body);
  return out;
}

status write_frame(int fd, frame_kind kind, std::string_view body) {
  auto bytes = encode_frame(kind, body);
  return write_all(fd, bytes.data(), bytes.size());
}

result<frame> read_frame(int fd, int timeout_ms) {
  uint8_t prefix[frame_prefix_bytes];
  if (auto got = read_all(fd, reinterpret_cast<char*>(prefix), sizeof(prefix),
                          timeout_ms);
      !got)
    return got.err();
  auto parsed = parse_prefix(prefix);
  if (!parsed)
    return parsed.err();
  frame out{parsed->first, std::string(parsed->second, '\0')};
  if (auto got = read_all(fd, out.body.data(), out.body.size(), timeout_ms);
      !got)
    return got.err();
  return out;
}

} // namespace pyro::wire
