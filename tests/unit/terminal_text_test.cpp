#include <catch2/catch.hpp>

#include "messages/terminal_text.hpp"

using namespace pyro;

TEST_CASE("escape_control shows control characters instead of obeying them",
          "[terminal][content]") {
  CHECK(escape_control("plain name-1_2.txt") == "plain name-1_2.txt");
  CHECK(escape_control("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
  CHECK(escape_control("bell\x07") == "bell\\x07");
  CHECK(escape_control("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  CHECK(escape_control(std::string{"nul\0x", 5}) == "nul\\x00x");
  CHECK(escape_control("del\x7f") == "del\\x7f");
  // C1 controls as UTF-8 (CSI is U+009B) and as stray bytes.
  CHECK(escape_control("\xc2\x9b"
                       "2J")
        == "\\u009b2J");
  CHECK(escape_control("\x9b"
                       "2J")
        == "\\x9b2J");
  // Bidirectional overrides and line separators.
  CHECK(escape_control("abc\xe2\x80\xae"
                       "txt.exe")
        == "abc\\u202etxt.exe");
  CHECK(escape_control("x\xe2\x80\xa8y") == "x\\u2028y");
  CHECK(escape_control("\xe2\x81\xa6z") == "\\u2066z");
}

TEST_CASE("escape_control keeps valid UTF-8 and escapes invalid bytes",
          "[terminal][content]") {
  CHECK(escape_control("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82")
        == "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82");
  CHECK(escape_control("\xff\xfe") == "\\xff\\xfe");
  // Overlong forms, surrogates, code points past U+10FFFF, cut sequences.
  CHECK(escape_control("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(escape_control("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");
  CHECK(escape_control("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK(escape_control("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
  CHECK(escape_control("end\xe6\x97") == "end\\xe6\\x97");
  // A backslash is kept as it is.
  CHECK(escape_control("C:\\dir") == "C:\\dir");
}

TEST_CASE("escape_control with keep_layout leaves newlines and tabs",
          "[terminal][content]") {
  CHECK(escape_control("+line\n+\tindented\n", true) == "+line\n+\tindented\n");
  CHECK(escape_control("+evil\rgood\n", true) == "+evil\\rgood\n");
  CHECK(escape_control("\x1b]0;title\x07\n", true) == "\\x1b]0;title\\x07\n");
}
