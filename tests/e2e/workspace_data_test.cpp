#include <set>
#include <sys/stat.h>
#include <thread>

#include "sandbox_fixture.hpp"

using namespace pyro;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

void make_seed(const fs::path& dir) {
  fs::create_directories(dir / "src");
  std::ofstream{dir / "README.md"} << "# seed\n";
  std::ofstream{dir / "src" / "main.sh"} << "echo main\n";
  fs::create_symlink("src/main.sh", dir / "link");
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "seeds from a directory, .tar, .tar.gz and .tgz",
                 "[e2e][workspace][seed]") {
  test::temp_dir host;
  auto seed = host.path() / "seed";
  make_seed(seed);
  auto tar = host.path() / "seed.tar";
  REQUIRE(test::run_process(
            {"/bin/tar", "-C", seed.string(), "-cf", tar.string(), "."})
            .exit_code
          == 0);
  auto tgz = host.path() / "seed.tgz";
  auto targz = host.path() / "seed.tar.gz";
  REQUIRE(test::run_process(
            {"/bin/tar", "-C", seed.string(), "-czf", tgz.string(), "."})
            .exit_code
          == 0);
  fs::copy_file(tgz, targz);
  for (const auto& [source, mode] :
       std::vector<std::pair<fs::path, std::string>>{{seed, "directory"},
                                                     {tar, "tar_archive"},
                                                     {tgz, "tar_archive"},
                                                     {targz, "tar_archive"}}) {
    INFO(source);
    auto created = pyro_json(
      {"workspace", "create", "busybox", "--seed-path", source.string()});
    auto id = created["workspace_id"].get<std::string>();
    CHECK(created["workspace_seed"]["mode"] == mode);
    CHECK(out(id, "cat README.md && sh src/main.sh && readlink link")
          == "# seed\nmain\nsrc/main.sh\n");
    CHECK(pyro_json({"workspace", "diff", id})["changed"] == false);
    pyro_json({"workspace", "delete", id});
  }
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a hostile seed archive is refused and nothing is created",
                 "[e2e][workspace][seed]") {
  test::temp_dir host;
  auto evil = host.path() / "evil";
  fs::create_directories(evil);
  fs::create_symlink("/etc/passwd", evil / "escape");
  auto refused = pyro_json(
    {"workspace", "create", "busybox", "--seed-path", evil.string()}, 2);
  CHECK_THAT(refused["error"]["message"].get<std::string>(),
             Catch::Contains("escape"));
  CHECK(pyro_json({"workspace", "list"})["count"] == 0);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "exports of files, directories and symlinks are byte-equal",
                 "[e2e][workspace][export]") {
  test::temp_dir host;
  auto seed = host.path() / "seed";
  make_seed(seed);
  auto id = create({"--seed-path", seed.string()});
  out(id, "head -c 3000000 /dev/urandom > blob.bin && mkdir -p d/e && "
          "cp blob.bin d/e/copy.bin");
  auto blob = host.path() / "blob.bin";
  auto file = pyro_json(
    {"workspace", "export", id, "blob.bin", "--output", blob.string()});
  CHECK(file["artifact_type"] == "file");
  CHECK(file["bytes_written"] == 3000000);
  auto sum_inside = out(id, "md5sum blob.bin | cut -d' ' -f1");
  auto sum_host = test::run_process({"/usr/bin/md5sum", blob.string()}).out;
  CHECK(sum_host.substr(0, 32) == sum_inside.substr(0, 32));
  auto dir = pyro_json({"workspace", "export", id, "/workspace/d", "--output",
                        (host.path() / "d").string()});
  CHECK(dir["artifact_type"] == "directory");
  CHECK(slurp(host.path() / "d" / "e" / "copy.bin") == slurp(blob));
  auto link = pyro_json({"workspace", "export", id, "link", "--output",
                         (host.path() / "link").string()});
  CHECK(link["artifact_type"] == "symlink");
  CHECK(fs::read_symlink(host.path() / "link") == "src/main.sh");
  auto again = pyro_json(
    {"workspace", "export", id, "blob.bin", "--output", blob.string()}, 4);
  CHECK(again["error"]["code"] == "already_exists");
  pyro_json({"workspace", "export", id, "README.md", "--output", blob.string(),
             "--overwrite"});
  CHECK(slurp(blob) == "# seed\n");
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "paths that escape /workspace are refused and change nothing",
                 "[e2e][workspace][confinement]") {
  auto id = create();
  out(id, "ln -s /etc /workspace/etc-link && ln -s ../.. /workspace/up");
  test::temp_dir host;
  auto probes = std::vector<std::vector<std::string>>{
    {"workspace", "file", "read", id, "../etc/passwd"},
    {"workspace", "file", "read", id, "/etc/passwd"},
    {"workspace", "file", "read", id, "etc-link/passwd"},
    {"workspace", "file", "read", id, "up/etc/passwd"},
    {"workspace", "file", "write", id, "../escape.txt", "--text", "x"},
    {"workspace", "file", "write", id, "etc-link/evil", "--text", "x"},
    {"workspace", "file", "list", id, "/"},
    {"workspace", "export", id, "etc-link/passwd", "--output",
     (host.path() / "out").string()},
    {"workspace", "sync", "push", id, host.path().string(), "--dest",
     "../escape"},
  };
  auto before = pyro_json({"workspace", "diff", id});
  for (const auto& probe : probes) {
    auto r = pyro_json(probe, 2);
    INFO(probe[2] << " " << probe.back());
    CHECK(r["error"]["code"] == "invalid_argument");
  }
  CHECK_FALSE(fs::exists(host.path() / "out"));
  CHECK(exec(id, "test -e /escape.txt")["exit_code"] != 0);
  CHECK(exec(id, "test -e /etc/evil")["exit_code"] != 0);
  CHECK(pyro_json({"workspace", "diff", id})["summary"] == before["summary"]);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "concurrent execs from two processes get distinct sequences",
                 "[e2e][workspace][exec]") {
  auto id = create();
  std::vector<json> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = pyro(
        {"--json", "workspace", "exec", id, "--", "echo " + std::to_string(i)});
      results[i] = json::parse(r.out, nullptr, false);
    });
  for (auto& t : threads)
    t.join();
  std::set<int64_t> sequences;
  for (const auto& r : results) {
    REQUIRE(r.is_object());
    sequences.insert(r["sequence"].get<int64_t>());
  }
  CHECK(sequences.size() == results.size());
  CHECK(*sequences.begin() == 1);
  CHECK(*sequences.rbegin() == static_cast<int64_t>(results.size()));
  CHECK(pyro_json({"workspace", "logs", id})["count"] == results.size());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "execs are journaled and counted without rewriting the "
                 "record",
                 "[e2e][workspace][exec]") {
  auto id = create();
  auto record = workspace_dir(id) / "workspace.json";
  struct stat before {};
  REQUIRE(::stat(record.c_str(), &before) == 0);
  auto started = pyro_json({"workspace", "status", id});
  CHECK(started["command_count"] == 0);
  CHECK(exec(id, "true")["sequence"] == 1);
  CHECK(exec(id, "false")["sequence"] == 2);
  auto status = pyro_json({"workspace", "status", id});
  CHECK(status["command_count"] == 2);
  CHECK(status["last_activity_at"].get<double>()
        >= started["last_activity_at"].get<double>());
  auto logs = pyro_json({"workspace", "logs", id});
  REQUIRE(logs["count"] == 2);
  CHECK(logs["entries"][1]["exit_code"] == 1);
  struct stat after {};
  REQUIRE(::stat(record.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "patches apply whole or not at all; diff after reset is "
                 "clean",
                 "[e2e][workspace][patch]") {
  test::temp_dir host;
  auto seed = host.path() / "seed";
  make_seed(seed);
  auto id = create({"--seed-path", seed.string()});
  auto good = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# seed\n"
              "+# patched\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n"
              "+new\n";
  auto applied
    = pyro_json({"workspace", "patch", "apply", id, "--patch", good});
  CHECK(applied["modified"] == json::array({"README.md"}));
  CHECK(applied["added"] == json::array({"new.txt"}));
  CHECK(out(id, "cat README.md new.txt") == "# patched\nnew\n");
  // The second file's hunk fails: the first file must stay untouched.
  auto bad = "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# patched\n"
             "+# again\n--- a/src/main.sh\n+++ b/src/main.sh\n@@ -1 +1 @@\n"
             "-echo nope\n+echo x\n";
  auto refused
    = pyro_json({"workspace", "patch", "apply", id, "--patch", bad}, 5);
  CHECK_THAT(refused["error"]["message"].get<std::string>(),
             Catch::Contains("src/main.sh") && Catch::Contains("hunk 1"));
  CHECK(out(id, "cat README.md") == "# patched\n");
  auto diff = pyro_json({"workspace", "diff", id});
  CHECK(diff["summary"]["modified"] == 1);
  CHECK(diff["summary"]["added"] == 1);
  CHECK_THAT(diff["patch"].get<std::string>(), Catch::Contains("+# patched"));
  pyro_json({"workspace", "reset", id});
  auto after = pyro_json({"workspace", "diff", id});
  CHECK(after["changed"] == false);
  CHECK(out(id, "cat README.md") == "# seed\n");
  CHECK(pyro_json({"workspace", "logs", id})["count"] == 1); // cat only
}
