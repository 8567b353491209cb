// Content is bytes: random trees of every kind of entry, with names and
// link targets that are arbitrary bytes, survive snapshot, reset and export
// exactly.

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "random_tree.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

uint64_t property_seed() {
  if (const char* given = std::getenv("PYRO_PROPERTY_SEED"))
    return std::strtoull(given, nullptr, 10);
  return std::random_device{}();
}

json manifest_of(const test::sandbox_fixture& f, const std::string& id,
                 const std::string& snapshot) {
  std::ifstream in{f.workspace_dir(id) / "snapshots" / snapshot
                   / "manifest.json"};
  auto j = json::parse(in, nullptr, false);
  REQUIRE(j.is_object());
  return j["entries"];
}

std::string joined(const std::vector<std::string>& lines) {
  std::ostringstream out;
  for (const auto& l : lines)
    out << l << "\n";
  return out.str();
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "random trees round-trip byte for byte through snapshot, "
                 "reset and export",
                 "[e2e][content][property]") {
  // mksock makes sockets in the busybox environment.
  fs::copy_file(PYRO_TEST_MKSOCK,
                cache.path() / "busybox" / "rootfs" / "usr" / "bin" / "mksock");
  auto seed = property_seed();
  WARN("property seed " << seed << " (PYRO_PROPERTY_SEED repeats it)");
  for (int trial = 0; trial < 3; ++trial) {
    std::mt19937_64 rng{seed + static_cast<uint64_t>(trial)};
    auto tree = test::random_tree::generate(rng, 40);
    INFO("trial " << trial);
    auto id = create();
    auto made = exec(id, tree.script());
    INFO("stderr: " << made["stderr"].get<std::string>());
    REQUIRE(made["exit_code"] == 0);

    pyro_json({"workspace", "snapshot", "create", id, "before"});
    test::temp_dir host;
    pyro_json({"workspace", "export", id, "/workspace", "--output",
               (host.path() / "before").string()});
    auto problems
      = test::compare_export(tree, test::walk_host(host.path() / "before"));
    INFO("export of the original:\n" << joined(problems));
    CHECK(problems.empty());

    // Changed so the reset has work to do (busybox rm cannot remove a
    // path longer than PATH_MAX, so the deep tree is moved aside).
    out(id, "mv deep moved-deep && echo new > n.txt");
    pyro_json({"workspace", "reset", id, "--snapshot", "before"});
    pyro_json({"workspace", "snapshot", "create", id, "after"});
    CHECK(manifest_of(*this, id, "before") == manifest_of(*this, id, "after"));
    pyro_json({"workspace", "export", id, "/workspace", "--output",
               (host.path() / "after").string()});
    problems
      = test::compare_export(tree, test::walk_host(host.path() / "after"));
    INFO("export after reset:\n" << joined(problems));
    CHECK(problems.empty());

    // Against the empty baseline: every entry shows, names and all.
    auto diff = pyro_json({"workspace", "diff", id});
    CHECK(diff["changed"] == true);
    CHECK(diff["summary"]["added"] == manifest_of(*this, id, "after").size());
    pyro_json({"workspace", "delete", id});
  }
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "non-ASCII names pass through seed, sync, diff and export",
                 "[e2e][content]") {
  test::temp_dir host;
  auto seed_dir = host.path() / "seed";
  fs::create_directories(seed_dir / "d\xc3\xa9j\xc3\xa0");
  std::ofstream{seed_dir / "h\xc3\xa9llo.txt"} << "bonjour\n";
  std::ofstream{seed_dir / "d\xc3\xa9j\xc3\xa0" / "caf\xe9"} << "latin1\n";
  auto id = create({"--seed-path", seed_dir.string()});
  CHECK(out(id, "cat 'h\xc3\xa9llo.txt'") == "bonjour\n");
  CHECK(out(id, "cat 'd\xc3\xa9j\xc3\xa0/caf\xe9'") == "latin1\n");
  // The command itself is bytes too.
  CHECK(out(id, "cat 'd\xc3\xa9j\xc3\xa0/caf'$(printf '\\351')") == "latin1\n");

  auto pushed = host.path() / "push";
  fs::create_directories(pushed);
  std::ofstream{pushed / "\xe2\x9c\x93 ok"} << "pushed\n";
  pyro_json({"workspace", "sync", "push", id, pushed.string()});
  CHECK(out(id, "cat '\xe2\x9c\x93 ok'") == "pushed\n");

  out(id, "echo changed >> 'h\xc3\xa9llo.txt'");
  auto diff = pyro_json({"workspace", "diff", id});
  CHECK(diff["changed"] == true);
  CHECK_THAT(diff["patch"].get<std::string>(),
             Catch::Contains("+changed"));

  pyro_json({"workspace", "export", id, "/workspace", "--output",
             (host.path() / "out").string()});
  std::ifstream back{host.path() / "out" / "d\xc3\xa9j\xc3\xa0" / "caf\xe9"};
  std::string text{std::istreambuf_iterator<char>{back}, {}};
  CHECK(text == "latin1\n");
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "deep paths, pushed or made inside, still diff",
                 "[e2e][content]") {
  auto id = create();
  // Pushed: just inside the 4096-byte limit below /workspace.
  test::temp_dir host;
  auto pushed = host.path() / "push";
  fs::path rel;
  for (int i = 0; i < 19; ++i)
    rel /= std::string(199, 'q') + std::to_string(i % 10);
  fs::create_directories(pushed / rel);
  std::ofstream{pushed / rel / "leaf"} << "pushed\n";
  pyro_json({"workspace", "sync", "push", id, pushed.string()});
  auto pushed_diff = pyro_json({"workspace", "diff", id});
  CHECK_THAT(pushed_diff["patch"].get<std::string>(),
             Catch::Contains("+pushed"));
  // Made inside: longer than PATH_MAX.
  // 20 components of 200 bytes: over 4096 below /workspace.
  std::string script = "set -e\n";
  for (int i = 0; i < 20; ++i)
    script += "mkdir " + std::string(199, 'p') + std::to_string(i % 10)
              + " && cd -P " + std::string(199, 'p') + std::to_string(i % 10)
              + "\n";
  script += "echo deep > leaf\n";
  out(id, script);
  auto diff = pyro_json({"workspace", "diff", id});
  CHECK(diff["changed"] == true);
  CHECK_THAT(diff["patch"].get<std::string>(), Catch::Contains("+deep"));
}
