// Mutations are all or nothing under kill -9: a create that dies is rolled
// back and says so, a reset that dies is finished by the next call, and
// neither leaves a process, cgroup or lock file behind.

#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leak_check.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

json record_of(const test::sandbox_fixture& f, const std::string& id) {
  return f.pyro_json({"workspace", "status", id});
}

std::vector<std::string> workspace_ids(const test::sandbox_fixture& f) {
  std::vector<std::string> out;
  auto listed = f.pyro_json({"workspace", "list"});
  for (const auto& w : listed["workspaces"])
    out.push_back(w["workspace_id"].get<std::string>());
  return out;
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a create left half-made is rolled back and reported failed",
                 "[e2e][interrupted]") {
  auto id = create();
  auto agent_pid = test::sandbox_pids(*this, id);
  REQUIRE_FALSE(agent_pid.empty());
  // What a create killed after its sandbox started leaves: the create-time
  // record and no durable one.
  auto dir = workspace_dir(id);
  auto record = json::parse(std::ifstream{dir / "workspace.json"});
  record["state"] = "creating";
  std::ofstream{dir / "creating.json"} << record.dump();
  fs::remove(dir / "workspace.json");

  auto status = record_of(*this, id);
  CHECK(status["state"] == "failed");
  CHECK_THAT(status["reason"].get<std::string>(),
             Catch::Contains("interrupted"));
  CHECK_THAT(status["hint"].get<std::string>(),
             Catch::Contains("pyro workspace delete " + id));
  // Rolled back: its sandbox is gone.
  CHECK(test::sandbox_pids(*this, id).empty());
  auto started = pyro({"workspace", "start", id});
  CHECK(started.exit_code != 0);
  CHECK_THAT(started.err, Catch::Contains("failed"));
  pyro_json({"workspace", "delete", id});
  CHECK(test::leaks(*this, id).empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "creates killed at random instants leave a usable or a "
                 "failed workspace, and delete leaves nothing",
                 "[e2e][interrupted]") {
  test::temp_dir host;
  auto seed = host.path() / "seed";
  for (int d = 0; d < 40; ++d) {
    fs::create_directories(seed / std::to_string(d));
    for (int f = 0; f < 50; ++f)
      std::ofstream{seed / std::to_string(d) / std::to_string(f)}
        << std::string(4096, static_cast<char>('a' + f % 26));
  }
  std::mt19937_64 rng{std::random_device{}()};
  int failed = 0;
  for (int trial = 0; trial < 7; ++trial) {
    auto delay = std::chrono::milliseconds{20 + rng() % 600};
    INFO("trial " << trial << " killed after " << delay.count() << " ms");
    test::kill_after(*this,
                     {"workspace", "create", "busybox", "--seed-path",
                      seed.string()},
                     delay);
    for (const auto& id : workspace_ids(*this)) {
      auto status = record_of(*this, id);
      auto state = status["state"].get<std::string>();
      INFO(status.dump());
      CHECK((state == "started" || state == "failed"));
      if (state == "started") {
        // Whole: seeded and with its baseline.
        CHECK(out(id, "ls 39 | wc -l") == "50\n");
        CHECK(pyro_json({"workspace", "diff", id})["changed"] == false);
      } else {
        ++failed;
        CHECK(pyro({"workspace", "start", id}).exit_code != 0);
      }
      pyro_json({"workspace", "delete", id});
      CHECK(test::leaks(*this, id).empty());
    }
  }
  WARN(failed << " of 7 killed creates were rolled back");
  CHECK(test::home_leftovers(*this).empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a reset killed at random instants is finished by the next "
                 "call",
                 "[e2e][interrupted]") {
  auto id = create();
  out(id, "echo saved > f");
  pyro_json({"workspace", "snapshot", "create", id, "s1"});
  std::mt19937_64 rng{std::random_device{}()};
  for (int trial = 0; trial < 5; ++trial) {
    out(id, "echo changed > f && touch extra");
    auto delay = std::chrono::milliseconds{5 + rng() % 150};
    INFO("trial " << trial << " killed after " << delay.count() << " ms");
    test::kill_after(*this, {"workspace", "reset", id, "--snapshot", "s1"},
                     delay);
    auto status = record_of(*this, id);
    INFO(status.dump());
    auto state = status["state"].get<std::string>();
    if (state == "started" && out(id, "cat f") == "changed\n")
      continue; // killed before the reset began: the old tree, whole
    CHECK(state == "started");
    CHECK(out(id, "cat f") == "saved\n");
    CHECK(out(id, "ls extra 2>/dev/null; true").empty());
  }
  pyro_json({"workspace", "delete", id});
  CHECK(test::leaks(*this, id).empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a sandbox no pid file names is killed before its workspace "
                 "starts another",
                 "[e2e][interrupted]") {
  auto id = create();
  out(id, "echo kept > f");
  auto first = test::sandbox_pids(*this, id);
  REQUIRE_FALSE(first.empty());
  // What a launch killed after PID 1 started, before the pid file was
  // written, leaves: a running sandbox nothing on disk points at.
  fs::remove(workspace_dir(id) / "runtime" / "pid.json");
  pyro_json({"workspace", "start", id});
  for (int pid : first) {
    INFO("pid " << pid);
    auto stat = std::ifstream{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text{std::istreambuf_iterator<char>{stat}, {}};
    CHECK((text.empty() || text.find(") Z ") != std::string::npos));
  }
  CHECK(out(id, "cat f") == "kept\n");
  pyro_json({"workspace", "delete", id});
  CHECK(test::leaks(*this, id).empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "100 create and delete cycles with kills in between leave "
                 "nothing under PYRO_HOME",
                 "[e2e][interrupted][leftovers]") {
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> seen;
  for (int cycle = 0; cycle < 100; ++cycle) {
    INFO("cycle " << cycle);
    if (cycle % 3 == 0) // a create killed somewhere in its first 150 ms
      test::kill_after(*this, {"workspace", "create", "busybox"},
                       std::chrono::milliseconds{rng() % 150});
    else
      seen.insert(create());
    for (const auto& id : workspace_ids(*this)) {
      seen.insert(id);
      CHECK(pyro({"workspace", "delete", id}).exit_code == 0);
    }
  }
  // The next create sweeps lock files a killed create left.
  auto id = create();
  pyro_json({"workspace", "delete", id});
  seen.insert(id);
  for (const auto& s : seen)
    CHECK(test::leaks(*this, s).empty());
  auto left = test::home_leftovers(*this);
  INFO(left.size() << " files left, the first: "
                   << (left.empty() ? "" : left.front()));
  CHECK(left.empty());
}
