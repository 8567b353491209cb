// kill -9 at random instants: of the CLI, of the sandbox helper and of the
// agent, during every kind of mutation. After each kill every record must
// read, the workspace must be usable again (through the documented
// commands) or cleanly deletable, and content must be old or new, never a
// mix. At the end nothing may be left: no process, cgroup, mount, loop
// device, lock file or temporary. Prints `trials | recovered | leaked`.

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <signal.h>

#include "leak_check.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

int trial_count() {
  const char* given = std::getenv("PYRO_CHAOS_TRIALS");
  return given ? std::atoi(given) : 60;
}

enum class victim { cli, helper, agent };

const char* name_of(victim v) {
  return v == victim::cli ? "cli" : v == victim::helper ? "helper" : "agent";
}

struct chaos {
  test::sandbox_fixture& f;
  std::mt19937_64 rng;
  test::temp_dir host;
  std::set<std::string> ever;
  std::string ws; // the workspace the trials work on

  // A seed big enough that a create spends a while importing it.
  fs::path seed_dir() {
    auto dir = host.path() / "seed";
    if (!fs::exists(dir))
      for (int d = 0; d < 20; ++d) {
        fs::create_directories(dir / std::to_string(d));
        for (int i = 0; i < 40; ++i)
          std::ofstream{dir / std::to_string(d) / std::to_string(i)}
            << std::string(8192, 'x');
      }
    return dir;
  }

  // A sync source: all of its 30 files land, or none.
  fs::path sync_dir(int trial) {
    auto dir = host.path() / ("sync-" + std::to_string(trial));
    fs::create_directories(dir / ("batch-" + std::to_string(trial)));
    for (int i = 0; i < 30; ++i)
      std::ofstream{dir / ("batch-" + std::to_string(trial)) / std::to_string(i)}
        << std::string(4096, 'y');
    return dir;
  }

  std::vector<std::string> ids() {
    std::vector<std::string> out;
    auto listed = f.pyro({"workspace", "list", "--json"});
    auto j = json::parse(listed.out, nullptr, false);
    if (j.is_object())
      for (const auto& w : j["workspaces"]) {
        CHECK_FALSE(w.contains("problem"));
        out.push_back(w["workspace_id"].get<std::string>());
      }
    return out;
  }

  void kill_victim(victim v, const std::string& id) {
    std::vector<int> pids;
    if (v == victim::helper)
      pids = test::helper_pids(f);
    else if (v == victim::agent && !id.empty())
      pids = test::sandbox_pids(f, id);
    for (int pid : pids)
      ::kill(pid, SIGKILL);
  }

  // The workspace a create in flight is making: not one seen before.
  std::string newest() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(f.home.path() / "workspaces", ec)) {
      auto id = e.path().filename().string();
      if (id.front() != '.' && ever.count(id) == 0)
        return id;
    }
    return {};
  }

  // The operation of one trial, as pyro arguments; creates, resets and
  // starts (the long ones, with most to leave half-done) come more often.
  std::vector<std::string> operation(int trial, std::string& label) {
    static const int weights[] = {3, 1, 1, 1, 2, 1, 1, 2, 1};
    int roll = static_cast<int>(rng() % 13);
    int pick = 0;
    while (roll >= weights[pick])
      roll -= weights[pick++];
    switch (pick) {
    case 0:
      label = "create";
      return {"workspace", "create", "busybox", "--seed-path",
              seed_dir().string()};
    case 1:
      label = "sync";
      return {"workspace", "sync", "push", ws, sync_dir(trial).string()};
    case 2:
      label = "exec";
      return {"workspace", "exec", ws, "--",
              "for i in 1 2 3 4 5; do echo $i >> log; done; sleep 0.2"};
    case 3:
      label = "snapshot";
      return {"workspace", "snapshot", "create", ws,
              "s" + std::to_string(trial)};
    case 4:
      label = "reset";
      return {"workspace", "reset", ws};
    case 5:
      label = "export";
      return {"workspace", "export", ws, "/workspace", "--output",
              (host.path() / ("out-" + std::to_string(trial))).string()};
    case 6:
      label = "stop";
      return {"workspace", "stop", ws};
    case 7:
      label = "start";
      return {"workspace", "start", ws};
    default:
      label = "delete";
      return {"workspace", "delete", ws};
    }
  }

  // Brings a workspace back to use through the documented commands: a
  // failed one (a create rolled back) must delete cleanly; any other must
  // then be whole: it runs commands, diffs against its baseline, and holds
  // its whole seed. False otherwise (it is deleted, to go on).
  bool recover(const std::string& id) {
    auto status = f.pyro({"workspace", "status", id, "--json"});
    auto j = json::parse(status.out, nullptr, false);
    if (status.exit_code != 0 || !j.is_object()) {
      WARN("workspace " << id << ": status failed: " << status.err);
      f.pyro({"workspace", "delete", id});
      return false;
    }
    auto state = j.value("state", "");
    if (state == "failed")
      return f.pyro({"workspace", "delete", id}).exit_code == 0;
    if (state == "unresponsive" || state == "agent_gone")
      f.pyro({"workspace", "stop", id});
    if (state != "started")
      f.pyro({"workspace", "start", id});
    bool seeded = j["workspace_seed"].value("mode", "") == "directory";
    auto ran = f.pyro({"workspace", "exec", id, "--json", "--",
                       seeded ? "ls 19 | wc -l" : "echo 40"});
    auto r = json::parse(ran.out, nullptr, false);
    bool whole = ran.exit_code == 0 && r.is_object() && r["stdout"] == "40\n"
                 && f.pyro({"workspace", "diff", id}).exit_code == 0
                 && check_content(id);
    if (!whole) {
      WARN("workspace " << id << " (" << state << ") is not whole: "
                        << ran.out << ran.err);
      f.pyro({"workspace", "delete", id});
    }
    return whole;
  }

  // Old or new, never a mix: every sync batch is whole or absent.
  bool check_content(const std::string& id) {
    auto listed = f.pyro({"workspace", "exec", id, "--json", "--",
                          "for d in batch-*; do [ -d \"$d\" ] && "
                          "echo \"$d $(ls \"$d\" | wc -l)\"; done; true"});
    auto j = json::parse(listed.out, nullptr, false);
    if (!j.is_object())
      return false;
    std::istringstream lines{j["stdout"].get<std::string>()};
    for (std::string name, count; lines >> name >> count;)
      if (count != "30") {
        WARN("workspace " << id << ": " << name << " holds " << count
                          << " of 30 files");
        return false;
      }
    return true;
  }
};

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "kill -9 of the CLI, the helper or the agent at random "
                 "instants loses nothing and leaks nothing",
                 "[e2e][chaos]") {
  auto seed = std::random_device{}();
  WARN("chaos seed " << seed);
  chaos c{*this, std::mt19937_64{seed}, {}, {}, {}};
  int trials = trial_count();
  // Kills land anywhere within the longest operations, timed here.
  auto began = std::chrono::steady_clock::now();
  auto timed = create({"--seed-path", c.seed_dir().string()});
  auto longest = std::chrono::steady_clock::now() - began;
  began = std::chrono::steady_clock::now();
  pyro_json({"workspace", "reset", timed});
  longest = std::max(longest, std::chrono::steady_clock::now() - began);
  pyro_json({"workspace", "delete", timed});
  c.ever.insert(timed);
  auto window = std::chrono::duration_cast<std::chrono::milliseconds>(longest)
                + 20ms;
  WARN("kills land within " << window.count() << " ms");
  int recovered = 0;
  for (int trial = 0; trial < trials; ++trial) {
    if (c.ws.empty() || !fs::exists(workspace_dir(c.ws))) {
      c.ws = create();
      c.ever.insert(c.ws);
    }
    std::string label;
    auto args = c.operation(trial, label);
    auto v = static_cast<victim>(c.rng() % 3);
    auto delay = std::chrono::milliseconds{
      c.rng() % static_cast<uint64_t>(window.count())};
    INFO("trial " << trial << ": " << label << ", kill " << name_of(v)
                  << " after " << delay.count() << " ms");
    int pid = test::spawn_pyro(*this, args);
    std::this_thread::sleep_for(delay);
    if (v == victim::cli)
      ::kill(pid, SIGKILL);
    else
      c.kill_victim(v, label == "create" ? c.newest() : c.ws);
    CHECK(test::wait_or_kill(pid, 120s));
    bool ok = true;
    for (const auto& id : c.ids()) {
      c.ever.insert(id);
      ok = c.recover(id) && ok;
    }
    CHECK(ok);
    recovered += ok ? 1 : 0;
  }
  for (const auto& id : c.ids())
    CHECK(pyro({"workspace", "delete", id}).exit_code == 0);
  size_t leaked = 0;
  for (const auto& id : c.ever) {
    auto left = test::leaks(*this, id);
    for (const auto& l : left)
      WARN("leaked: " << l);
    leaked += left.size();
  }
  auto files = test::home_leftovers(*this);
  for (const auto& l : files)
    WARN("left under PYRO_HOME: " << l);
  leaked += files.size();
  for (const auto& e : fs::directory_iterator(c.host.path()))
    if (e.path().filename().string().rfind(".pyro-export-", 0) == 0) {
      // A killed export's staging is cleaned by the next export into the
      // directory; one more shows that it is.
      auto id = create();
      pyro_json({"workspace", "export", id, "/workspace", "--output",
                 (c.host.path() / "final").string()});
      pyro_json({"workspace", "delete", id});
      c.ever.insert(id);
      break;
    }
  for (const auto& e : fs::directory_iterator(c.host.path()))
    if (e.path().filename().string().rfind(".pyro-export-", 0) == 0) {
      WARN("left beside an export: " << e.path());
      ++leaked;
    }
  std::printf("chaos: trials | recovered | leaked\n"
              "chaos: %6d | %9d | %6zu\n",
              trials, recovered, leaked);
  CHECK(recovered == trials);
  CHECK(leaked == 0);
}
