// Host paths from MCP tool calls are resolved and confined to the roots
// (host_roots.hpp): nothing outside, nothing through a symlink, the
// resolved path passed on.

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "frontends/mcp/host_roots.hpp"
#include "temp_dir.hpp"

using namespace pyro;
using pyro::contract::host_access;
namespace fs = std::filesystem;

namespace {

struct roots_fixture {
  test::temp_dir dir;
  fs::path root;
  fs::path outside;
  mcp::host_roots roots;

  roots_fixture() {
    root = fs::path{*mcp::resolve_root(dir.path())} / "root";
    outside = root.parent_path() / "outside";
    fs::create_directories(root / "sub");
    fs::create_directories(outside);
    std::ofstream{root / "sub" / "file.txt"} << "in\n";
    std::ofstream{outside / "secret.txt"} << "out\n";
    roots = {{root.string()}, "given with --host-root"};
  }

  result<std::string> read(const fs::path& p) const {
    return mcp::confine_host_path("seed_path", p.string(), host_access::read,
                                  roots);
  }

  result<std::string> write(const fs::path& p) const {
    return mcp::confine_host_path("output_path", p.string(), host_access::write,
                                  roots);
  }
};

} // namespace

TEST_CASE_METHOD(roots_fixture, "paths inside a root pass, resolved",
                 "[mcp][roots]") {
  CHECK(*read(root / "sub" / "file.txt") == (root / "sub/file.txt").string());
  CHECK(*read(root) == root.string());
  CHECK(*read(root.string() + "//sub/./file.txt")
        == (root / "sub/file.txt").string());
  // Outputs that do not exist yet, at any depth.
  CHECK(*write(root / "new.txt") == (root / "new.txt").string());
  CHECK(*write(root / "a" / "b" / "c") == (root / "a/b/c").string());
}

TEST_CASE_METHOD(roots_fixture, "paths outside every root are refused",
                 "[mcp][roots]") {
  for (auto p : {outside / "secret.txt", fs::path{"/etc/shadow"}, fs::path{"/"},
                 root.parent_path(), fs::path{root.string() + "-sibling"}}) {
    INFO(p);
    auto r = read(p);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == error_code::invalid_argument);
    // The refusal names the roots, and who may widen them.
    CHECK_THAT(r.err().message, Catch::Contains(root.string())
                                  && Catch::Contains("--host-root"));
    CHECK_THAT(r.err().hint,
               Catch::Contains("--host-root") && Catch::Contains("operator"));
  }
  // Writing the root itself would replace all of it.
  CHECK_FALSE(write(root));
}

TEST_CASE_METHOD(roots_fixture, "relative paths and '..' are refused",
                 "[mcp][roots]") {
  CHECK_THAT(read("sub/file.txt").err().message,
             Catch::Contains("not an absolute path"));
  CHECK_THAT(read(root / ".." / "outside" / "secret.txt").err().message,
             Catch::Contains("'..'"));
  CHECK_FALSE(read(root / "sub" / ".."));
  CHECK_FALSE(read(""));
}

TEST_CASE_METHOD(roots_fixture,
                 "a symlink inside a root that points out is refused",
                 "[mcp][roots]") {
  fs::create_directory_symlink(outside, root / "link");
  fs::create_symlink(outside / "secret.txt", root / "secret-link");
  fs::create_symlink("/etc/shadow", root / "shadow");
  auto through = read(root / "link" / "secret.txt");
  REQUIRE_FALSE(through);
  CHECK_THAT(
    through.err().message,
    Catch::Contains("resolves to '" + (outside / "secret.txt").string()));
  CHECK_FALSE(read(root / "secret-link"));
  CHECK_FALSE(read(root / "shadow"));
  CHECK_FALSE(write(root / "link" / "new.txt"));
  CHECK_FALSE(write(root / "link" / "deeper" / "new.txt"));
  CHECK_FALSE(write(root / "secret-link"));
  // A dangling link would be followed by whatever creates the file.
  fs::create_symlink(outside / "not-yet", root / "dangling");
  CHECK_THAT(write(root / "dangling").err().message,
             Catch::Contains("cannot be resolved"));
  CHECK_FALSE(fs::exists(outside / "not-yet"));
}

TEST_CASE_METHOD(roots_fixture,
                 "a symlink that stays inside is followed and passed on "
                 "resolved",
                 "[mcp][roots]") {
  fs::create_directory_symlink(root / "sub", root / "alias");
  CHECK(*read(root / "alias" / "file.txt") == (root / "sub/file.txt").string());
  // A root given through a symlink is resolved too.
  fs::create_directory_symlink(root, root.parent_path() / "root-link");
  auto via = mcp::resolve_root((root.parent_path() / "root-link").string());
  REQUIRE(via);
  CHECK(*via == root.string());
}

TEST_CASE("no roots refuse every path, saying why", "[mcp][roots]") {
  mcp::host_roots none{{}, "the HTTP transport has no default"};
  auto r
    = mcp::confine_host_path("source_path", "/tmp", host_access::read, none);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.err().message, Catch::Contains("no host path")
                                && Catch::Contains("HTTP transport"));
}

TEST_CASE("a root must be an existing directory", "[mcp][roots]") {
  test::temp_dir dir;
  std::ofstream{dir.path() / "file"} << "x";
  CHECK_FALSE(mcp::resolve_root((dir.path() / "file").string()));
  CHECK_FALSE(mcp::resolve_root((dir.path() / "missing").string()));
  CHECK(mcp::resolve_root(dir.path().string()));
}

TEST_CASE("file URIs name local paths", "[mcp][roots]") {
  CHECK(mcp::file_uri_path("file:///home/u/proj") == "/home/u/proj");
  CHECK(mcp::file_uri_path("file://localhost/home/u") == "/home/u");
  CHECK(mcp::file_uri_path("file:///a%20b/%C3%A9") == "/a b/\xC3\xA9");
  CHECK(mcp::file_uri_path("file://otherhost/x").empty());
  CHECK(mcp::file_uri_path("http://localhost/x").empty());
  CHECK(mcp::file_uri_path("file:///x%00y").empty());
  CHECK(mcp::file_uri_path("file:///x%zz").empty());
  CHECK(mcp::file_uri_path("file:///x?y").empty());
  CHECK(mcp::file_uri_path("/plain/path").empty());
}
