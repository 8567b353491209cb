// Host and Origin as the HTTP transport admits them (http_admission.hpp):
// compared whole, host and port, against the names the server is reached
// by. Each spelling below got a session from the prefix match this
// replaced, or was accepted without a Host at all.

#include <catch2/catch.hpp>

#include "frontends/mcp/http_admission.hpp"
#include "frontends/mcp/http_request.hpp"

using pyro::mcp::http::allowed_authorities;
using pyro::mcp::http::check_bearer;
using pyro::mcp::http::check_host_and_origin;
using pyro::mcp::http::request;

namespace {

request with_headers(std::vector<std::pair<std::string, std::string>> headers) {
  request req;
  req.method = "POST";
  req.path = "/mcp";
  req.headers = std::move(headers);
  return req;
}

int status_for(const std::string& host, const std::string& origin = {}) {
  std::vector<std::pair<std::string, std::string>> headers{{"host", host}};
  if (!origin.empty())
    headers.emplace_back("origin", origin);
  return check_host_and_origin(with_headers(headers),
                               allowed_authorities("127.0.0.1", 8765))
    .status;
}

} // namespace

TEST_CASE("a loopback bind is reached by its address and localhost",
          "[mcp][admission]") {
  CHECK(allowed_authorities("127.0.0.1", 8765)
        == std::vector<std::string>{"127.0.0.1:8765", "localhost:8765"});
  CHECK(allowed_authorities("::1", 80)
        == std::vector<std::string>{"[::1]:80", "localhost:80"});
  CHECK(allowed_authorities("[::1]", 80)
        == std::vector<std::string>{"[::1]:80", "localhost:80"});
  CHECK(allowed_authorities("localhost", 1)
        == std::vector<std::string>{"localhost:1", "127.0.0.1:1", "[::1]:1"});
  CHECK(allowed_authorities("192.0.2.7", 9)
        == std::vector<std::string>{"192.0.2.7:9"});
  auto wildcard = allowed_authorities("0.0.0.0", 9);
  CHECK(std::count(wildcard.begin(), wildcard.end(), "127.0.0.1:9") == 1);
}

TEST_CASE("the local names with the bound port are admitted",
          "[mcp][admission]") {
  CHECK(status_for("127.0.0.1:8765") == 0);
  CHECK(status_for("localhost:8765") == 0);
  CHECK(status_for("LocalHost:8765") == 0);
  CHECK(status_for("127.0.0.1:8765", "http://127.0.0.1:8765") == 0);
  CHECK(status_for("127.0.0.1:8765", "http://localhost:8765") == 0);
}

TEST_CASE("host spellings that only start like a local one are refused",
          "[mcp][admission]") {
  for (std::string host :
       {"127.0.0.1.evil.com:8765", "localhost.evil.com:8765",
        "127.0.0.1.nip.io:8765", "evil.com:8765", "localhost.:8765",
        "127.1:8765", "127.0.0.2:8765", "0x7f000001:8765", "2130706433:8765",
        "[::1]:8765", "[::ffff:127.0.0.1]:8765", "127.0.0.1:8766",
        "127.0.0.1:08765", "127.0.0.1", "localhost"}) {
    INFO(host);
    // Even with an Origin that names the same host, as a rebinding page's
    // does.
    CHECK(status_for(host, "http://" + host) == 403);
    CHECK(status_for(host) == 403);
  }
}

TEST_CASE("a Host that is not an authority is a bad request",
          "[mcp][admission]") {
  for (std::string host : {"127.0.0.1:8765.evil.com", "127.0.0.1:8765@evil.com",
                           "evil.com@127.0.0.1:8765", "127.0.0.1:8765/x",
                           "127.0.0.1:", "127.0.0.1:+8765", "[::1:8765",
                           "127.0.0.1:87650", ":8765", "127.0.0.1 :8765"}) {
    INFO(host);
    CHECK(status_for(host) == 400);
  }
}

TEST_CASE("a missing, empty or repeated Host is a bad request",
          "[mcp][admission]") {
  auto allowed = allowed_authorities("127.0.0.1", 8765);
  CHECK(check_host_and_origin(with_headers({}), allowed).status == 400);
  CHECK(check_host_and_origin(with_headers({{"host", ""}}), allowed).status
        == 400);
  auto twice = check_host_and_origin(
    with_headers({{"host", "127.0.0.1:8765"}, {"host", "127.0.0.1:8765"}}),
    allowed);
  CHECK(twice.status == 400);
  CHECK_THAT(twice.message, Catch::Contains("more than one Host"));
}

TEST_CASE("an Origin must name this server exactly", "[mcp][admission]") {
  for (std::string origin :
       {"http://evil.example", "http://127.0.0.1.evil.com:8765",
        "http://127.0.0.1:8766", "https://127.0.0.1:8765", "null",
        "http://127.0.0.1:8765/", "http://user@127.0.0.1:8765",
        "127.0.0.1:8765", "http://localhost", ""}) {
    INFO(origin);
    auto req = with_headers({{"host", "127.0.0.1:8765"}, {"origin", origin}});
    CHECK(
      check_host_and_origin(req, allowed_authorities("127.0.0.1", 8765)).status
      == 403);
  }
  auto twice = with_headers({{"host", "127.0.0.1:8765"},
                             {"origin", "http://127.0.0.1:8765"},
                             {"origin", "http://evil.example"}});
  CHECK(
    check_host_and_origin(twice, allowed_authorities("127.0.0.1", 8765)).status
    == 403);
}

TEST_CASE("the bearer token must match whole", "[mcp][admission]") {
  auto with = [](std::string value) {
    return with_headers({{"authorization", std::move(value)}});
  };
  CHECK(check_bearer(with("Bearer s3cret"), "s3cret").status == 0);
  CHECK(check_bearer(with("bearer s3cret"), "s3cret").status == 0);
  CHECK(check_bearer(with_headers({}), "s3cret").status == 401);
  for (std::string value : {"Bearer s3cre", "Bearer s3cretX", "Bearer ",
                            "Basic s3cret", "s3cret", "Bearer S3CRET"}) {
    INFO(value);
    CHECK(check_bearer(with(value), "s3cret").status == 401);
  }
  auto twice = with_headers(
    {{"authorization", "Bearer s3cret"}, {"authorization", "Bearer other"}});
  CHECK(check_bearer(twice, "s3cret").status == 401);
  // No token configured admits nobody rather than everybody.
  CHECK(check_bearer(with("Bearer "), "").status == 401);
}
