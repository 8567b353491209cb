#include "messages/wire/byte_names.hpp"

namespace pyro::wire {

bool valid_utf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                                : (c >> 3) == 0x1E                  ? 4
                                                                    : 0;
    if (len == 0 || i + len > bytes.size())
      return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(bytes[i + k]);
      if ((cc >> 6) != 0x2)
        return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += len;
  }
  return true;
}

void put_bytes(nlohmann::json& j, const std::string& key,
               const std::string& value) {
  j[key] = value;
  if (valid_utf8(value))
    return;
  static const char* digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(value.size() * 2);
  for (unsigned char c : value) {
    hex += digits[c >> 4];
    hex += digits[c & 0xF];
  }
  j[key + "_hex"] = std::move(hex);
}

std::string get_bytes(const nlohmann::json& j, const std::string& key) {
  if (auto hex = j.find(key + "_hex"); hex != j.end() && hex->is_string()) {
    const auto& text = hex->get_ref<const std::string&>();
    auto nibble = [](char c) {
      return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    };
    std::string out;
    for (size_t i = 0; i + 1 < text.size(); i += 2)
      out += static_cast<char>((nibble(text[i]) << 4) | nibble(text[i + 1]));
    return out;
  }
  if (auto plain = j.find(key); plain != j.end() && plain->is_string())
    return plain->get<std::string>();
  return {};
}

} // namespace pyro::wire
