// `pyro env prune` over an environment cache that two PYRO_HOMEs share:
// what it keeps and why, what it removes, and a dry run that removes
// nothing. Installs are faked (a complete install.json beside a rootfs
// directory), workspaces are records, and the other home's use marker is
// written as docs/environments.md documents it; no sandbox runs.

#include <fstream>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"
#include "tests/unit/record_fixtures.hpp"
#include "tests/unit/run_process.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace pyro;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct shared_cache {
  test::temp_dir cache;
  /// Where prune runs.
  test::temp_dir home;
  /// Another PYRO_HOME sharing the cache.
  test::temp_dir other;

  fs::path install_dir(std::string name) const {
    for (auto& c : name)
      if (c == ':' || c == '/')
        c = '_';
    return cache.path() / name;
  }

  void install(const std::string& name, bool complete = true) const {
    auto dir = install_dir(name);
    fs::create_directories(dir / "rootfs" / "bin");
    std::ofstream{dir / "install.json"} << json{
      {"complete", complete},
      {"name", name},
      {"source", "busybox"}}.dump();
  }

  bool installed(const std::string& name) const {
    return fs::exists(install_dir(name) / "install.json");
  }

  // A workspace on `environment` in `where`, and the marker a create there
  // leaves in the cache.
  void use(const fs::path& where, const std::string& environment,
           const std::string& id) const {
    auto record = test::sample_record(id);
    record.environment = environment;
    REQUIRE(state_store{where}.save(record));
    fs::create_directories(cache.path() / ".users");
    std::ofstream{cache.path() / ".users" / (id + ".json")} << json{
      {"pyro_home", where.string()},
      {"environment", environment}}.dump();
  }

  test::process_output pyro(std::vector<std::string> args) const {
    args.insert(args.begin(), PYRO_BIN);
    return test::run_process(
      args, {{"PYRO_HOME", home.path().string()},
             {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()}});
  }

  json prune(std::vector<std::string> flags = {}) const {
    std::vector<std::string> args{"env", "prune", "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = pyro(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE(j.is_object());
    return j;
  }
};

std::set<std::string> names(const json& entries) {
  std::set<std::string> out;
  for (const auto& e : entries)
    out.insert(e.at("name").get<std::string>());
  return out;
}

std::string reason_for(const json& entries, const std::string& name) {
  for (const auto& e : entries)
    if (e.at("name") == name)
      return e.at("reason").get<std::string>();
  return {};
}

} // namespace

TEST_CASE_METHOD(shared_cache, "prune keeps the default environment",
                 "[environments][prune]") {
  install("debian:12");
  install("busybox");
  install("debian:12-base", false); // what an interrupted pull leaves
  auto r = prune();
  CHECK(installed("debian:12"));
  CHECK_THAT(reason_for(r["kept"], "debian:12"),
             Catch::Contains("default environment"));
  CHECK(names(r["removed"])
        == std::set<std::string>{"busybox", "debian:12-base"});
  CHECK_THAT(reason_for(r["removed"], "debian:12-base"),
             Catch::StartsWith("stale"));
  CHECK_THAT(reason_for(r["removed"], "busybox"), Catch::StartsWith("unused"));
  CHECK_FALSE(fs::exists(install_dir("busybox")));
  CHECK_FALSE(fs::exists(install_dir("debian:12-base")));
  // Still there for the next prune, which has nothing to do.
  auto again = prune();
  CHECK(again["count"] == 0);
  CHECK(installed("debian:12"));
}

TEST_CASE_METHOD(shared_cache,
                 "an environment used only by another PYRO_HOME survives "
                 "prune",
                 "[environments][prune]") {
  install("busybox");
  install("debian:12-build");
  use(other.path(), "busybox", "ws-other");
  auto r = prune();
  CHECK(installed("busybox"));
  auto why = reason_for(r["kept"], "busybox");
  CHECK_THAT(why, Catch::Contains("ws-other")
                    && Catch::Contains(other.path().string()));
  // Nobody uses debian:12-build: this home's prune may remove it.
  CHECK(names(r["removed"]) == std::set<std::string>{"debian:12-build"});
  bool counted = false;
  for (const auto& h : r["homes"])
    if (h["pyro_home"] == other.path().string())
      counted = h["counted"] == true;
  CHECK(counted);
}

TEST_CASE_METHOD(shared_cache,
                 "an environment whose other PYRO_HOME was deleted is pruned",
                 "[environments][prune]") {
  install("busybox");
  use(other.path(), "busybox", "ws-other");
  auto gone = other.path();
  fs::remove_all(gone);
  auto r = prune();
  CHECK_FALSE(installed("busybox"));
  CHECK(names(r["removed"]) == std::set<std::string>{"busybox"});
  bool forgotten = false;
  for (const auto& h : r["homes"])
    if (h["pyro_home"] == gone.string())
      forgotten = h["counted"] == false
                  && h["reason"].get<std::string>().find("no longer exists")
                       != std::string::npos;
  CHECK(forgotten);
  // Its marker went with it; nothing outside the cache was touched.
  CHECK(fs::is_empty(cache.path() / ".users"));
  CHECK(fs::exists(home.path()));
  CHECK_FALSE(fs::exists(gone));
}

TEST_CASE_METHOD(shared_cache,
                 "prune --dry-run names what it would remove and removes "
                 "nothing",
                 "[environments][prune]") {
  install("debian:12");
  install("busybox");
  fs::create_directories(cache.path() / ".staging-busybox-99999" / "rootfs");
  auto dry = prune({"--dry-run"});
  CHECK(dry["dry_run"] == true);
  std::set<std::string> expected{"busybox", ".staging-busybox-99999"};
  CHECK(names(dry["removed"]) == expected);
  CHECK(dry["count"] == 2);
  CHECK(installed("busybox"));
  CHECK(installed("debian:12"));
  CHECK(fs::exists(cache.path() / ".staging-busybox-99999"));
  // For people, the same in words.
  auto human = pyro({"env", "prune", "--dry-run"});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("would remove environment busybox")
                          && Catch::Contains("kept environment debian:12"));
  CHECK(installed("busybox"));
  // The real prune removes exactly what the dry run named.
  auto real = prune();
  CHECK(real["dry_run"] == false);
  CHECK(names(real["removed"]) == expected);
  CHECK_FALSE(installed("busybox"));
  CHECK_FALSE(fs::exists(cache.path() / ".staging-busybox-99999"));
  CHECK(installed("debian:12"));
}
