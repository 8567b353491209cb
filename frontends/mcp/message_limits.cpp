#include "frontends/mcp/message_limits.hpp"

#include "frontends/mcp/server_core.hpp"

namespace pyro::mcp {

std::string check_message_text(std::string_view text) {
  if (text.size() > max_message_bytes)
    return "message of " + std::to_string(text.size())
           + " bytes is larger than the limit of "
           + std::to_string(max_message_bytes);
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      break;
    case '[':
    case '{':
      if (++depth > max_message_depth)
        return "arrays and objects nest deeper than the limit of "
               + std::to_string(max_message_depth);
      break;
    case ']':
    case '}':
      // Unbalanced text is the parser's to refuse; never wrap around.
      if (depth > 0)
        --depth;
      break;
    default:
      break;
    }
  }
  return {};
}

parsed_message parse_message(std::string_view text) {
  parsed_message out;
  if (auto why = check_message_text(text); !why.empty()) {
    out.error = rpc_error(nullptr, -32600, "Invalid Request: " + why);
    return out;
  }
  out.message = nlohmann::json::parse(text, nullptr, false);
  if (out.message.is_discarded()) {
    out.message = nullptr;
    out.error = server_core::parse_error("not valid JSON");
  }
  return out;
}

} // namespace pyro::mcp
