// Names are bytes on the wire: tar members of every kind and JSON names
// that are not UTF-8 come back exactly as they went.

#include <catch2/catch.hpp>

#include "messages/wire/byte_names.hpp"
#include "messages/wire/tar.hpp"

using namespace pyro;

TEST_CASE("UTF-8 is told from other bytes", "[wire][content]") {
  CHECK(wire::valid_utf8("plain"));
  CHECK(wire::valid_utf8("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"));
  CHECK_FALSE(wire::valid_utf8("caf\xe9"));          // Latin-1
  CHECK_FALSE(wire::valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(wire::valid_utf8("\xed\xa0\x80"));     // a surrogate
  CHECK_FALSE(wire::valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
  CHECK_FALSE(wire::valid_utf8("\xe2\x9c"));         // cut short
}

TEST_CASE("names that are not UTF-8 survive JSON exactly", "[wire][content]") {
  for (const std::string& name :
       std::vector<std::string>{"plain", "h\xc3\xa9llo", "caf\xe9", "\xff\xfe",
                                std::string("nul\0inside", 10)}) {
    nlohmann::json j = nlohmann::json::object();
    wire::put_bytes(j, "path", name);
    auto text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto back = nlohmann::json::parse(text);
    CHECK(wire::get_bytes(back, "path") == name);
    CHECK(back.contains("path_hex") == !wire::valid_utf8(name));
  }
}

TEST_CASE("tar members of every kind round-trip with their names",
          "[wire][content]") {
  std::string stream;
  wire::tar_writer w{[&](std::string_view b) {
    stream.append(b);
    return status{};
  }};
  std::string long_name = std::string(300, 'n') + "\xff";
  REQUIRE(w.add_directory("d\xe9", 0750, 111));
  REQUIRE(w.begin_file(long_name, 04755, 3, 222));
  REQUIRE(w.write("abc"));
  REQUIRE(w.add_hardlink("hard", long_name, 222));
  REQUIRE(w.add_symlink("abs", "/usr/lib/\xfe", 333));
  REQUIRE(w.add_special("fifo", '6', 0600, 444));
  REQUIRE(w.add_special("sock", wire::socket_type, 0755, 555));
  REQUIRE(w.finish());

  size_t pos = 0;
  wire::tar_reader r{[&](char* buf, size_t n) -> result<size_t> {
    n = std::min(n, stream.size() - pos);
    std::copy_n(stream.data() + pos, n, buf);
    pos += n;
    return n;
  }};
  std::vector<wire::tar_member> got;
  for (;;) {
    auto m = r.next();
    REQUIRE(m);
    if (!*m)
      break;
    got.push_back(**m);
  }
  REQUIRE(got.size() == 6);
  CHECK(got[0].name == "d\xe9/");
  CHECK(got[0].mode == 0750);
  CHECK(got[1].name == long_name);
  CHECK(got[1].mode == 04755);
  CHECK(got[1].mtime == 222);
  CHECK(got[2].type == '1');
  CHECK(got[2].link == long_name);
  CHECK(got[3].link == "/usr/lib/\xfe");
  CHECK(got[4].type == '6');
  CHECK(got[5].type == wire::socket_type);
  CHECK(got[5].mode == 0755);
}
