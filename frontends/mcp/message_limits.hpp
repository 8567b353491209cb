#pragma once

// Bounds on what a client may send, checked on the raw text before any JSON
// parser or recursive walk sees it. nlohmann's parser is iterative, but
// copying, comparing and serialising a value recurse once per level of
// nesting: a ping whose params nest 150,000 deep overflowed the stack. A
// single pass over the text, aware of strings and escapes, costs far less
// than the parse that follows it.

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace pyro::mcp {

/// The largest message accepted on any transport (an HTTP body, a stdio
/// line).
inline constexpr size_t max_message_bytes = 4u << 20;

/// The deepest nesting of arrays and objects accepted. Real requests nest
/// some six levels (params, arguments, secrets, an item); this leaves room
/// without letting recursion anywhere near the stack's end.
inline constexpr size_t max_message_depth = 64;

/// Why `text` is refused before parsing ("" when it is within bounds).
[[nodiscard]] std::string check_message_text(std::string_view text);

/// A message parsed after the checks above, or the JSON-RPC error reply
/// (-32600 for a message out of bounds, -32700 for text that is not JSON).
struct parsed_message {
  nlohmann::json message;
  /// Null when the message parsed; otherwise the reply to send.
  nlohmann::json error;

  [[nodiscard]] bool ok() const {
    return error.is_null();
  }
};

/// Checks, then parses, one message.
[[nodiscard]] parsed_message parse_message(std::string_view text);

} // namespace pyro::mcp
