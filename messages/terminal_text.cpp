#include "messages/terminal_text.hpp"

#include <vector>

namespace pyro {

namespace {

constexpr char esc = '\x1b';
constexpr char bel = '\x07';

// The line being drawn: one UTF-8 character per cell, and the cursor.
struct line_buffer {
  std::vector<std::string> cells;
  size_t col = 0;

  void put(std::string_view ch) {
    if (col < cells.size())
      cells[col] = std::string{ch};
    else
      cells.emplace_back(ch);
    ++col;
  }

  // A tab moves the cursor without erasing what it passes.
  void tab() {
    do {
      if (col >= cells.size())
        cells.emplace_back(" ");
      ++col;
    } while (col % 8 != 0);
  }

  void flush_to(std::string& out) {
    for (const auto& c : cells)
      out += c;
    cells.clear();
    col = 0;
  }
};

size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0)
    return 4;
  if (lead >= 0xE0)
    return 3;
  if (lead >= 0xC0)
    return 2;
  return 1;
}

// Skips an escape sequence starting at raw[i] == ESC; returns the index
// after it and reports a CSI's final byte.
size_t skip_escape(std::string_view raw, size_t i, char& csi_final) {
  csi_final = 0;
  if (i + 1 >= raw.size())
    return raw.size();
  char kind = raw[i + 1];
  if (kind == '[') {
    size_t j = i + 2;
    while (j < raw.size() && (raw[j] < 0x40 || raw[j] > 0x7E))
      ++j;
    if (j < raw.size())
      csi_final = raw[j];
    return std::min(j + 1, raw.size());
  }
  if (kind == ']' || kind == 'P' || kind == '_' || kind == '^') {
    // OSC and friends run to BEL or ST (ESC \).
    for (size_t j = i + 2; j < raw.size(); ++j) {
      if (raw[j] == bel)
        return j + 1;
      if (raw[j] == esc && j + 1 < raw.size() && raw[j + 1] == '\\')
        return j + 2;
    }
    return raw.size();
  }
  if ((kind == '(' || kind == ')' || kind == '#') && i + 2 < raw.size())
    return i + 3; // charset selection: one more byte
  return i + 2;
}

// The length of the valid UTF-8 sequence at text[i] and its code point, or
// 0 when the bytes there are not one (overlong forms and surrogates
// included).
size_t utf8_sequence(std::string_view text, size_t i, char32_t& cp) {
  auto byte = [&](size_t k) {
    return static_cast<unsigned char>(text[i + k]);
  };
  auto lead = byte(0);
  size_t n = 0;
  char32_t lo = 0;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = lead & 0x1F;
    lo = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = lead & 0x0F;
    lo = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07;
    lo = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size())
    return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(k) & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  if (cp < lo || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

// Code points that reorder or break what follows on screen.
bool invisible_control(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E
         || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E)
         || (cp >= 0x2066 && cp <= 0x2069);
}

void append_hex(std::string& out, const char* prefix, unsigned value,
                int digits) {
  static const char* hex = "0123456789abcdef";
  out += prefix;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out += hex[(value >> shift) & 0xF];
}

} // namespace

std::string escape_control(std::string_view text, bool keep_layout) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    auto n = utf8_sequence(text, i, cp);
    if (n == 0) {
      append_hex(out, "\\x", static_cast<unsigned char>(text[i]), 2);
      ++i;
      continue;
    }
    if (cp == '\n' || cp == '\t') {
      if (keep_layout)
        out += static_cast<char>(cp);
      else
        out += cp == '\n' ? "\\n" : "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      append_hex(out, "\\x", static_cast<unsigned>(cp), 2);
    } else if (invisible_control(cp)) {
      append_hex(out, "\\u", static_cast<unsigned>(cp), 4);
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string render_plain(std::string_view raw) {
  std::string out;
  line_buffer line;
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c == esc) {
      char final = 0;
      i = skip_escape(raw, i, final);
      if (final == 'K' && line.col < line.cells.size())
        line.cells.resize(line.col); // erase to the end of the line
      continue;
    }
    if (c == '\n') {
      line.flush_to(out);
      out += '\n';
      ++i;
      continue;
    }
    if (c == '\r') {
      line.col = 0;
      ++i;
      continue;
    }
    if (c == '\b') {
      if (line.col > 0)
        --line.col;
      ++i;
      continue;
    }
    if (c == '\t') {
      line.tab();
      ++i;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      ++i; // other control characters draw nothing
      continue;
    }
    auto n = std::min(utf8_length(u), raw.size() - i);
    line.put(raw.substr(i, n));
    i += n;
  }
  line.flush_to(out);
  return out;
}

} // namespace pyro
