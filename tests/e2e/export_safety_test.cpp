// Export never destroys: it replaces only the entry it was named, through
// one rename, and leaves nothing behind that a later export does not clean.

#include <algorithm>
#include <fstream>

#include <unistd.h>

#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in{p};
  return {std::istreambuf_iterator<char>{in}, {}};
}

// Names in `dir` that an export left behind.
std::vector<std::string> export_leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (name.rfind(".pyro-export-", 0) == 0)
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an export replaces only the entry it names",
                 "[e2e][export]") {
  auto id = create();
  out(id, "mkdir -p d && echo fresh > d/f");
  test::temp_dir host;
  auto dir = host.path() / "dir";
  fs::create_directories(dir);
  std::ofstream{dir / "mine.txt"} << "keep me\n";
  // Names the old code used for its staging: never touched now.
  std::ofstream{host.path() / ".dir.export"} << "not pyro's\n";
  std::ofstream{dir / ".out.export"} << "not pyro's either\n";

  SECTION("DIR/. names no entry and is refused, DIR untouched") {
    for (const auto& given : {dir.string() + "/.", dir.string() + "/..",
                              dir.string() + "/"}) {
      INFO(given);
      auto r = pyro({"workspace", "export", id, "d", "--output", given,
                     "--overwrite"});
      CHECK(r.exit_code != 0);
      CHECK_THAT(r.err, Catch::Contains("does not name a file or directory"));
      CHECK(read_text(dir / "mine.txt") == "keep me\n");
    }
  }

  SECTION("a name of the exports' own temporaries is refused") {
    auto r = pyro({"workspace", "export", id, "d", "--output",
                   (dir / ".pyro-export-999999999-5").string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("pyro's own temporaries"));
    CHECK(export_leftovers(dir).empty());
  }

  SECTION("overwrite swaps out the one entry, siblings stay") {
    auto target = dir / "out";
    fs::create_directories(target / "old");
    std::ofstream{target / "old" / "x"} << "old\n";
    auto refused = pyro({"workspace", "export", id, "d", "--output",
                         target.string()});
    CHECK(refused.exit_code != 0);
    CHECK(fs::exists(target / "old" / "x"));
    pyro_json({"workspace", "export", id, "d", "--output", target.string(),
               "--overwrite"});
    CHECK(read_text(target / "f") == "fresh\n");
    CHECK_FALSE(fs::exists(target / "old"));
    CHECK(read_text(dir / "mine.txt") == "keep me\n");
    CHECK(read_text(dir / ".out.export") == "not pyro's either\n");
    CHECK(read_text(host.path() / ".dir.export") == "not pyro's\n");
    CHECK(export_leftovers(dir).empty());
  }

  SECTION("a parent reached through the user's symlink is followed") {
    fs::create_symlink(dir, host.path() / "link");
    pyro_json({"workspace", "export", id, "d/f", "--output",
               (host.path() / "link" / "via-link.txt").string()});
    CHECK(read_text(dir / "via-link.txt") == "fresh\n");
    CHECK(fs::is_symlink(host.path() / "link"));
  }

  SECTION("an output that is a symlink is replaced, its target is not") {
    std::ofstream{host.path() / "precious"} << "precious\n";
    fs::create_symlink(host.path() / "precious", dir / "pointer");
    pyro_json({"workspace", "export", id, "d/f", "--output",
               (dir / "pointer").string(), "--overwrite"});
    CHECK(read_text(host.path() / "precious") == "precious\n");
    CHECK_FALSE(fs::is_symlink(dir / "pointer"));
    CHECK(read_text(dir / "pointer") == "fresh\n");
  }

  SECTION("what a killed export left is cleaned by the next one") {
    // A dead process's staging (no such pid) and a live one's (pid 1).
    fs::create_directories(dir / ".pyro-export-999999999-1" / "half");
    fs::create_directories(dir / ".pyro-export-1-2");
    // Look-alikes someone else could have made or could change inside
    // (a shared directory such as /tmp): never walked, never removed.
    fs::create_directories(dir / ".pyro-export-999999999-3");
    fs::permissions(dir / ".pyro-export-999999999-3", fs::perms::all);
    fs::create_directories(dir / ".pyro-export-999999999-4");
    REQUIRE(::chown((dir / ".pyro-export-999999999-4").c_str(), 4242, 4242)
            == 0);
    pyro_json({"workspace", "export", id, "d", "--output",
               (dir / "again").string()});
    CHECK(read_text(dir / "again" / "f") == "fresh\n");
    CHECK(export_leftovers(dir)
          == std::vector<std::string>{".pyro-export-1-2",
                                      ".pyro-export-999999999-3",
                                      ".pyro-export-999999999-4"});
  }
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a killed snapshot or export leaves nothing the next call "
                 "keeps",
                 "[e2e][export][leftovers]") {
  auto id = create();
  out(id, "echo x > f");
  auto snapshots = workspace_dir(id) / "snapshots";
  auto scratch = workspace_dir(id) / "tmp";
  fs::create_directories(snapshots / ".partial-999999999-7" / "half");
  fs::create_directories(scratch);
  std::ofstream{scratch / "export-999999999-3"} << "half a tar";
  std::ofstream{scratch / "sync-999999999-4"} << "half a tar";
  pyro_json({"workspace", "snapshot", "create", id, "s1"});
  CHECK_FALSE(fs::exists(snapshots / ".partial-999999999-7"));
  test::temp_dir host;
  pyro_json({"workspace", "export", id, "f", "--output",
             (host.path() / "f").string()});
  CHECK_FALSE(fs::exists(scratch / "export-999999999-3"));
  fs::create_directories(host.path() / "push");
  pyro_json({"workspace", "sync", "push", id, (host.path() / "push").string()});
  CHECK_FALSE(fs::exists(scratch / "sync-999999999-4"));
  auto listed = pyro_json({"workspace", "snapshot", "list", id});
  CHECK(listed["snapshots"].size() == 1);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a lock file goes with its workspace",
                 "[e2e][leftovers]") {
  auto locks = home.path() / "locks";
  for (int i = 0; i < 5; ++i) {
    auto id = create();
    CHECK(fs::exists(locks / (id + ".lock")));
    pyro_json({"workspace", "delete", id});
    CHECK_FALSE(fs::exists(locks / (id + ".lock")));
  }
  size_t left = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(locks))
    ++left;
  CHECK(left == 0);
}
