#include <catch2/catch.hpp>

#include "frontends/mcp/http_request.hpp"

using pyro::mcp::http::limits;
using pyro::mcp::http::request_reader;
using progress = request_reader::progress;

namespace {

const std::string ping_body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";

std::string post(const std::string& body, const std::string& extra = "") {
  return "POST /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n"
         "Content-Length: "
         + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// The status a request is refused with, or 0 if it parses.
int refusal(std::string in, limits lim = {}) {
  request_reader reader{lim};
  auto p = reader.parse(in);
  return p == progress::error ? reader.error_status() : 0;
}

} // namespace

TEST_CASE("a request with a Content-Length body parses whole", "[mcp][http]") {
  request_reader reader;
  auto in = post(ping_body, "Mcp-Session-Id:  abc \r\n");
  REQUIRE(reader.parse(in) == progress::done);
  auto& req = reader.current();
  CHECK(req.method == "POST");
  CHECK(req.path == "/mcp");
  CHECK(req.http11);
  CHECK(req.body == ping_body);
  REQUIRE(req.header("mcp-session-id") != nullptr);
  CHECK(*req.header("mcp-session-id") == "abc");
  CHECK(req.header_value("host") == "127.0.0.1:8765");
  CHECK(req.header("origin") == nullptr);
  CHECK(req.keep_alive());
  CHECK(in.empty());
}

TEST_CASE("a request arriving a byte at a time parses the same",
          "[mcp][http]") {
  request_reader reader;
  auto whole = post(ping_body);
  std::string in;
  for (size_t i = 0; i + 1 < whole.size(); ++i) {
    in += whole[i];
    REQUIRE(reader.parse(in) == progress::more);
  }
  CHECK(reader.in_body());
  in += whole.back();
  REQUIRE(reader.parse(in) == progress::done);
  CHECK(reader.current().body == ping_body);
}

TEST_CASE("pipelined requests are read one after another", "[mcp][http]") {
  request_reader reader;
  auto in = "\r\n" + post(ping_body) + post("{}");
  REQUIRE(reader.parse(in) == progress::done);
  CHECK(reader.current().body == ping_body);
  reader.reset();
  REQUIRE(reader.parse(in) == progress::done);
  CHECK(reader.current().body == "{}");
  reader.reset();
  CHECK(reader.parse(in) == progress::more);
  CHECK_FALSE(reader.started());
}

TEST_CASE("a chunked body is decoded, extensions and trailers skipped",
          "[mcp][http]") {
  request_reader reader;
  std::string in = "POST /mcp HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                   "5;name=value\r\n{\"jso\r\n"
                   "A\r\nnrpc\":\"2.0\r\n"
                   "2\r\n\"}\r\n"
                   "0\r\nX-Trailer: 1\r\n\r\nGET";
  REQUIRE(reader.parse(in) == progress::done);
  CHECK(reader.current().body == R"({"jsonrpc":"2.0"})");
  CHECK(in == "GET");
}

TEST_CASE("connection handling follows the version and Connection",
          "[mcp][http]") {
  request_reader reader;
  auto in = post("", "Connection: keep-alive, Close\r\n");
  REQUIRE(reader.parse(in) == progress::done);
  CHECK_FALSE(reader.current().keep_alive());
  reader.reset();
  in = "GET /mcp HTTP/1.0\r\n\r\n";
  REQUIRE(reader.parse(in) == progress::done);
  CHECK_FALSE(reader.current().http11);
  CHECK_FALSE(reader.current().keep_alive());
  reader.reset();
  in = post("{}", "Expect: 100-continue\r\n");
  in.resize(in.size() - 2);
  REQUIRE(reader.parse(in) == progress::more);
  CHECK(reader.in_body());
  CHECK(reader.current().expects_continue());
}

TEST_CASE("framing that two parsers could read differently is refused",
          "[mcp][http]") {
  // Two different lengths, a length beside chunked, two codings.
  CHECK(refusal(post("{}", "Content-Length: 3\r\n")) == 400);
  CHECK(refusal(post("{}", "Transfer-Encoding: chunked\r\n")) == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}") == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}") == 400);
  // Whitespace before the colon, folded lines, control bytes.
  CHECK(refusal("POST /mcp HTTP/1.1\r\nHost : x\r\n\r\n") == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n") == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nX-A: b\nc\r\n\r\n") == 400);
  CHECK(refusal(std::string{"POST /mcp HTTP/1.1\r\nX-A: b\0c\r\n\r\n", 32})
        == 400);
  // Request lines that are not one.
  CHECK(refusal("POST  /mcp HTTP/1.1\r\n\r\n") == 400);
  CHECK(refusal("POST /mcp\r\n\r\n") == 400);
  CHECK(refusal("\x16\x03\x01 garbage\r\n\r\n") == 400);
  CHECK(refusal("POST /mcp HTTP/2.0\r\n\r\n") == 505);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
        == 501);
  // Malformed chunks.
  CHECK(refusal("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n")
        == 400);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\n{}XX")
        == 400);
}

TEST_CASE("sizes past the limits are refused before the body is read",
          "[mcp][http]") {
  limits lim;
  lim.body_bytes = 16;
  lim.head_bytes = 256;
  lim.header_count = 4;
  CHECK(refusal(post(std::string(17, 'x')), lim) == 413);
  CHECK(
    refusal("POST /mcp HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", lim)
    == 413);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "11\r\n",
                lim)
        == 413);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nX-A: " + std::string(300, 'a'), lim)
        == 431);
  CHECK(refusal("POST /mcp HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: "
                "1\r\n\r\n",
                lim)
        == 431);
  CHECK(refusal(post(std::string(16, 'x')), lim) == 0);
}
