// The resident runtime: the first call of a PYRO_HOME starts one process
// that serves every later call as the CLI would; a caller whose environment
// differs serves itself; it stops, idles out and goes with its home, and
// after its death the next call starts another.

#include <csignal>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "leak_check.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Pids of `pyro server run` processes serving `home`.
std::vector<int> server_pids(const fs::path& home) {
  return test::live_pids([&](const fs::path& proc, const std::string& cmd) {
    return cmd.find(std::string{"server\0run", 10}) != std::string::npos
           && test::proc_text(proc / "environ")
                .find("PYRO_HOME=" + home.string() + '\0')
                != std::string::npos;
  });
}

// Stops the home's server whatever the test did, before the home goes.
struct server_guard {
  const test::sandbox_fixture& f;
  ~server_guard() {
    f.pyro({"server", "stop"});
    for (int pid : server_pids(f.home.path()))
      ::kill(pid, SIGKILL);
  }
};

// The first call of a home starts its server (opt-in for now).
struct start_on_demand {
  start_on_demand() {
    ::setenv("PYRO_SERVER", "auto", 1);
  }
  ~start_on_demand() {
    ::unsetenv("PYRO_SERVER");
  }
};

bool gone_within(const fs::path& home, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!server_pids(home).empty()
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  return server_pids(home).empty();
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "calls go through a started server and behave as without it",
                 "[e2e][server]") {
  start_on_demand on;
  server_guard guard{*this};
  auto started = pyro_json({"server", "start"});
  auto pid = started["pid"].get<int>();
  CHECK(server_pids(home.path()) == std::vector<int>{pid});
  // A second start finds it.
  CHECK(pyro_json({"server", "start"})["pid"] == pid);
  auto before = pyro_json({"server", "status"})["requests"].get<int>();

  auto id = create();
  CHECK(out(id, "echo hi > f && cat f") == "hi\n");
  CHECK(pyro_json({"workspace", "diff", id})["changed"] == true);
  // A relative host path means the caller's directory, not the server's.
  test::temp_dir host;
  auto cwd = fs::current_path();
  fs::current_path(host.path());
  auto exported
    = pyro({"workspace", "export", id, "f", "--output", "relative.txt"});
  fs::current_path(cwd);
  INFO(exported.err);
  CHECK(exported.exit_code == 0);
  CHECK(test::proc_text(host.path() / "relative.txt") == "hi\n");
  auto after = pyro_json({"server", "status"});
  CHECK(after["requests"].get<int>() >= before + 5);
  CHECK(after["workspaces"] == 1);

  // Its errors are the CLI's errors, exit codes included.
  auto missing = pyro({"workspace", "status", "ws-nope"});
  CHECK(missing.exit_code == 3);
  CHECK_THAT(missing.err, Catch::Contains("does not exist"));

  pyro_json({"workspace", "delete", id});
  pyro_json({"server", "stop"});
  CHECK(gone_within(home.path(), 10s));
  CHECK_FALSE(fs::exists(home.path() / "server.sock"));
  auto status = pyro({"server", "status"});
  CHECK(status.exit_code != 0);
  // The next call starts a server again.
  CHECK(pyro_json({"workspace", "list"})["count"] == 0);
  auto again = server_pids(home.path());
  REQUIRE(again.size() == 1);
  CHECK(again.front() != pid);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "the first call starts the server and racing calls share one",
                 "[e2e][server]") {
  start_on_demand on;
  server_guard guard{*this};
  CHECK(server_pids(home.path()).empty());
  std::vector<std::thread> callers;
  // Racing first calls start one server between them.
  for (int i = 0; i < 4; ++i)
    callers.emplace_back([&] {
      CHECK(pyro({"workspace", "list", "--json"}).exit_code == 0);
    });
  for (auto& t : callers)
    t.join();
  CHECK(server_pids(home.path()).size() == 1);
  CHECK(pyro_json({"server", "status"})["requests"].get<int>() >= 4);
  // PYRO_SERVER=off serves the call here and starts nothing.
  pyro_json({"server", "stop"});
  CHECK(gone_within(home.path(), 10s));
  auto local = test::run_process({PYRO_BIN, "workspace", "list"},
                                 {{"PYRO_HOME", home.path().string()},
                                  {"PYRO_ENVIRONMENT_CACHE_DIR",
                                   cache.path().string()},
                                  {"PYRO_SERVER", "off"}});
  CHECK(local.exit_code == 0);
  CHECK(server_pids(home.path()).empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a server exits when its PYRO_HOME is removed",
                 "[e2e][server]") {
  test::temp_dir other;
  auto home2 = other.path() / "home";
  auto r = test::run_process({PYRO_BIN, "server", "start", "--json"},
                             {{"PYRO_HOME", home2.string()},
                              {"PYRO_ENVIRONMENT_CACHE_DIR",
                               cache.path().string()}});
  REQUIRE(r.exit_code == 0);
  REQUIRE(server_pids(home2).size() == 1);
  fs::remove_all(home2);
  CHECK(gone_within(home2, 10s));
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a caller whose environment differs from the server's serves "
                 "itself, never served differently",
                 "[e2e][server]") {
  server_guard guard{*this};
  pyro_json({"server", "start"});
  auto id = create();
  auto before = pyro_json({"server", "status"})["requests"].get<int>();
  // Another cache: there busybox is not installed; the server's has it.
  auto r = test::run_process({PYRO_BIN, "env", "list", "--json"},
                             {{"PYRO_HOME", home.path().string()},
                              {"PYRO_ENVIRONMENT_CACHE_DIR",
                               (home.path() / "elsewhere").string()}});
  REQUIRE(r.exit_code == 0);
  auto listed = json::parse(r.out);
  bool busybox_installed = false;
  for (const auto& e : listed["environments"])
    if (e.value("name", "") == "busybox")
      busybox_installed = e.value("installed", false);
  CHECK_FALSE(busybox_installed);
  // Refused calls count as requests, served ones more: one refusal each
  // from the thin client and from pyro-runtime, nothing else.
  CHECK(pyro_json({"server", "status"})["requests"].get<int>() <= before + 3);
  pyro_json({"workspace", "delete", id});
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a server killed with -9 leaves callers serving themselves "
                 "and a new server can start",
                 "[e2e][server]") {
  start_on_demand on;
  server_guard guard{*this};
  auto first = pyro_json({"server", "start"})["pid"].get<int>();
  auto id = create();
  ::kill(first, SIGKILL);
  CHECK(gone_within(home.path(), 5s));
  // The socket file is still there; nobody answers on it: the next call
  // starts a new server (the lock died with the old one).
  CHECK(out(id, "echo still") == "still\n");
  auto second = pyro_json({"server", "status"})["pid"].get<int>();
  CHECK(second != first);
  CHECK(out(id, "echo again") == "again\n");
  pyro_json({"workspace", "delete", id});
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an exec whose caller is killed is cancelled by the server",
                 "[e2e][server]") {
  server_guard guard{*this};
  pyro_json({"server", "start"});
  auto id = create();
  test::kill_after(*this, {"workspace", "exec", id, "--", "sleep 30"}, 700ms,
                   test::served_by::server);
  std::this_thread::sleep_for(1500ms);
  CHECK(out(id, "ps -o args | grep -c '^sleep 30' || true") == "0\n");
  pyro_json({"workspace", "delete", id});
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a workspace answers through the server while one of its "
                 "execs runs",
                 "[e2e][server]") {
  server_guard guard{*this};
  pyro_json({"server", "start"});
  auto id = create();
  int busy = test::spawn_pyro(*this, {"workspace", "exec", id, "--", "sleep 3"},
                              test::served_by::server);
  std::this_thread::sleep_for(500ms);
  auto began = std::chrono::steady_clock::now();
  CHECK(pyro_json({"workspace", "status", id})["state"] == "started");
  CHECK(out(id, "ps | grep -v grep | grep -c 'sleep 3'; true") == "1\n");
  auto took = std::chrono::steady_clock::now() - began;
  // Behind the exec they would have waited for its 3 s.
  CHECK(took < 2s);
  CHECK(test::wait_or_kill(busy, 10s));
  pyro_json({"workspace", "delete", id});
}

TEST_CASE_METHOD(test::sandbox_fixture, "an idle server exits on its own",
                 "[e2e][server]") {
  server_guard guard{*this};
  auto r = test::run_process({PYRO_BIN, "server", "start", "--json"},
                             {{"PYRO_HOME", home.path().string()},
                              {"PYRO_ENVIRONMENT_CACHE_DIR",
                               cache.path().string()},
                              {"PYRO_BACKEND", ""},
                              {"PYRO_SERVER_IDLE_SECONDS", "1"}});
  REQUIRE(r.exit_code == 0);
  CHECK(gone_within(home.path(), 10s));
  CHECK_THAT(test::proc_text(home.path() / "server.log"), Catch::Contains("idle"));
}
