#include "actors/terminal_text.hpp"

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

} // namespace

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
