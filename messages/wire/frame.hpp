#pragma once

// Framing of the host<->agent protocol (docs/protocol.md): every frame is
// one kind byte, a 32-bit big-endian length and that many bytes. A request
// or reply is a header frame (JSON) optionally followed by data frames and
// an end frame, so archives and file bodies stream without base64.

#include <cstdint>
#include <string>
#include <string_view>

#include "messages/error.hpp"

namespace pyro::wire {

enum class frame_kind : uint8_t {
  header = 'H', ///< a JSON object
  data = 'D',   ///< a chunk of a byte stream
  end = 'E',    ///< the end of a byte stream (empty body)
};

/// Largest header frame accepted (replies carry exec output); bigger claims
/// are refused unread.
constexpr uint32_t max_header_bytes = 16u << 20;
/// Largest data frame; streams are cut into chunks of at most this.
constexpr uint32_t max_chunk_bytes = 1u << 20;
/// Bytes before the body: kind and length.
constexpr size_t frame_prefix_bytes = 5;

struct frame {
  frame_kind kind = frame_kind::header;
  std::string body;
};

/// Checks a 5-byte prefix; the error says what is wrong with it.
result<std::pair<frame_kind, uint32_t>> parse_prefix(const uint8_t* prefix);

/// Decodes one frame from the front of `buffer`; `consumed` is set to its
/// size. `failed_precondition` means more bytes are needed; any other error
/// means the stream is garbage.
result<frame> decode_frame(std::string_view buffer, size_t& consumed);

std::string encode_frame(frame_kind kind, std::string_view body);

/// Writes a whole frame to a file descriptor (retrying short writes).
status write_frame(int fd, frame_kind kind, std::string_view body);

/// Reads one frame, waiting at most `timeout_ms` (-1: forever) for each
/// part; `unavailable` when the peer hung up.
result<frame> read_frame(int fd, int timeout_ms = -1);

} // namespace pyro::wire
