// Messages are bounded on their raw text before anything parses or walks
// them (message_limits.hpp): a 150,000-deep ping overflowed the stack.

#include <catch2/catch.hpp>

#include "frontends/mcp/message_limits.hpp"

using namespace pyro::mcp;

namespace {

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

std::string ping_with(const std::string& params) {
  return R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":)" + params
         + "}}";
}

} // namespace

TEST_CASE("nesting up to the limit passes, one level more does not",
          "[mcp][limits]") {
  CHECK(check_message_text(nested(max_message_depth)).empty());
  CHECK_THAT(check_message_text(nested(max_message_depth + 1)),
             Catch::Contains("nest deeper"));
  // Objects count like arrays, and so do mixtures.
  std::string objects;
  for (size_t i = 0; i < max_message_depth + 1; ++i)
    objects += R"({"a":)";
  CHECK_FALSE(check_message_text(objects).empty());
}

TEST_CASE("a 150,000-deep ping is an Invalid Request, not a crash",
          "[mcp][limits]") {
  auto parsed = parse_message(ping_with(nested(150000)));
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error["error"]["code"] == -32600);
  CHECK(parsed.error["id"].is_null());
  // Unclosed brackets are refused as early.
  CHECK_FALSE(parse_message(std::string(150000, '[')).ok());
  CHECK_FALSE(parse_message(std::string(150000, '{')).ok());
}

TEST_CASE("brackets inside strings do not count", "[mcp][limits]") {
  auto in_string = ping_with("\"" + nested(150000) + "\"");
  CHECK(check_message_text(in_string).empty());
  auto parsed = parse_message(in_string);
  REQUIRE(parsed.ok());
  CHECK(parsed.message["method"] == "ping");
  // An escaped quote does not end the string.
  auto escaped = ping_with("\"\\\"" + nested(1000) + "\"");
  CHECK(check_message_text(escaped).empty());
  // An escaped backslash does.
  auto closed = ping_with("\"\\\\\"," + nested(1000));
  CHECK_FALSE(check_message_text(closed).empty());
  // Stray closers cannot buy depth for later openers.
  CHECK_FALSE(
    check_message_text(std::string(1000, ']') + nested(max_message_depth + 1))
      .empty());
}

TEST_CASE("a message past the size limit is refused before parsing",
          "[mcp][limits]") {
  std::string big = "\"" + std::string(max_message_bytes, 'x') + "\"";
  CHECK_THAT(check_message_text(big), Catch::Contains("larger than"));
  CHECK(parse_message(big).error["error"]["code"] == -32600);
}

TEST_CASE("text that is not JSON is a parse error", "[mcp][limits]") {
  auto parsed = parse_message("{not json");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error["error"]["code"] == -32700);
}
