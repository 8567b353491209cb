#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "actors/create_request.hpp"
#include "temp_dir.hpp"

using namespace pyro;

TEST_CASE("create requests are validated field by field", "[create]") {
  create_request ok;
  ok.environment = "debian:12";
  CHECK(validate(ok));
  auto expect = [](create_request r, const std::string& field) {
    auto v = validate(r);
    REQUIRE_FALSE(v);
    CHECK(v.err().code == error_code::invalid_argument);
    CHECK_THAT(v.err().message, Catch::StartsWith(field));
  };
  auto r = ok;
  r.environment = "ubuntu:99";
  // Not a malformed request but a name that does not exist, as `env pull`
  // says it too.
  auto unknown = validate(r);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == error_code::not_found);
  CHECK_THAT(unknown.err().message,
             Catch::Contains("unknown environment 'ubuntu:99'"));
  r = ok;
  r.vcpu_count = 0;
  expect(r, "vcpu_count");
  r = ok;
  r.mem_mib = 64;
  expect(r, "mem_mib");
  r = ok;
  r.disk_mib = 63;
  expect(r, "disk_mib");
  r = ok;
  r.disk_mib = 1048577;
  expect(r, "disk_mib");
  r = ok;
  r.ttl_seconds = -1;
  expect(r, "ttl_seconds");
  r = ok;
  r.network_policy = "everything";
  expect(r, "network_policy");
  r = ok;
  r.secrets = {{"A", "1", "literal"}, {"A", "2", "literal"}};
  expect(r, "secrets");
}

TEST_CASE("secrets parse from literals and files", "[create][secrets]") {
  auto lit = parse_secret("API_TOKEN=s3cr=et", false);
  REQUIRE(lit);
  CHECK(lit->name == "API_TOKEN");
  CHECK(lit->value == "s3cr=et");
  CHECK(lit->source_kind == "literal");
  test::temp_dir dir;
  std::ofstream{dir.path() / "key"} << "from file\n";
  auto file = parse_secret("KEY=" + (dir.path() / "key").string(), true);
  REQUIRE(file);
  CHECK(file->value == "from file\n");
  CHECK(file->source_kind == "file");
  auto unnamed = parse_secret("hunter2value", false);
  REQUIRE_FALSE(unnamed);
  CHECK(unnamed.err().message.find("hunter2") == std::string::npos);
  CHECK_FALSE(parse_secret("1BAD=x", false));
  CHECK_FALSE(parse_secret("K=" + (dir.path() / "missing").string(), true));
  CHECK_FALSE(parse_secret(std::string{"K=\xff\xfe"}, false));
  CHECK(parse_secret("K=caf\xc3\xa9", false)); // UTF-8 accepted
}

TEST_CASE("workspace ids are fresh and path-safe", "[create]") {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_workspace_id();
    CHECK(id.size() == 15);
    CHECK(id.rfind("ws-", 0) == 0);
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}
