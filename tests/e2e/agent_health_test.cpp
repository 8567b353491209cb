// An agent that stops answering, or whose sandbox is gone, as a user meets
// it through the real CLI: `status` says so within seconds with a hint,
// calls fail fast instead of waiting out their timeout, and stop/start
// brings a working agent back. The agent is frozen (SIGSTOP) or killed
// from the host, through the pid its sandbox recorded in runtime/pid.json.

#include <chrono>
#include <csignal>
#include <future>
#include <thread>

#include <sys/ptrace.h>
#include <sys/wait.h>

#include "sandbox_fixture.hpp"
#include "vmm/process_identity.hpp"

using namespace pyro;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

struct health_fixture : test::sandbox_fixture {
  std::string ws = create();

  /// The sandbox's agent as the host sees it (PID 1 of the sandbox).
  vmm::process_identity agent() const {
    std::ifstream in{workspace_dir(ws) / "runtime" / "pid.json"};
    auto id = vmm::process_identity_from_json(json::parse(in, nullptr, false));
    REQUIRE(id.pid > 0);
    REQUIRE(vmm::alive(id));
    return id;
  }

  /// Runs `pyro ... --json` and how long it took.
  std::pair<json, clock_type::duration> timed(std::vector<std::string> args,
                                              int expected_exit = 0) const {
    auto began = clock_type::now();
    auto j = pyro_json(std::move(args), expected_exit);
    return {j, clock_type::now() - began};
  }

  /// The stop/start advice every report on a stuck agent carries.
  void check_restart_hint(const std::string& hint) const {
    INFO("hint: " << hint);
    CHECK(hint.find("pyro workspace stop " + ws) != std::string::npos);
    CHECK(hint.find("pyro workspace start " + ws) != std::string::npos);
  }

  /// status, exec and a file read on an agent that does not answer.
  void check_reported_unresponsive() const {
    auto [status, status_took] = timed({"workspace", "status", ws});
    CHECK(status_took < 5s);
    CHECK(status["state"] == "unresponsive");
    check_restart_hint(status.value("hint", ""));

    auto [exec, exec_took] = timed({"workspace", "exec", ws, "--", "true"}, 6);
    CHECK(exec_took < 5s);
    CHECK(exec["error"]["code"] == "unavailable");
    check_restart_hint(exec["error"].value("hint", ""));

    auto [read, read_took]
      = timed({"workspace", "file", "read", ws, "a.txt"}, 6);
    CHECK(read_took < 5s);
    CHECK(read["error"]["code"] == "unavailable");
  }

  /// stop within 10 s, then start and a command that works.
  void check_stop_start_recovers(const vmm::process_identity& old) const {
    auto began = clock_type::now();
    auto stopped = pyro({"workspace", "stop", ws, "--json"});
    check_stopped(stopped, clock_type::now() - began, old);
    check_start_recovers();
  }

  void check_stopped(const test::process_output& stopped,
                     clock_type::duration took,
                     const vmm::process_identity& old) const {
    INFO("stop: " << stopped.out << stopped.err);
    CHECK(took < 10s);
    CHECK(stopped.exit_code == 0);
    CHECK(stopped.out.find("\"stopped\"") != std::string::npos);
    CHECK_FALSE(vmm::alive(old));
  }

  void check_start_recovers() const {
    auto started = pyro_json({"workspace", "start", ws});
    CHECK(started["state"] == "started");
    CHECK(out(ws, "echo ok") == "ok\n");
    auto status = pyro_json({"workspace", "status", ws});
    CHECK(status["state"] == "started");
    CHECK_FALSE(status.contains("hint"));
  }
};

} // namespace

TEST_CASE_METHOD(health_fixture,
                 "a frozen agent is reported unresponsive and stop/start "
                 "recovers it") {
  CHECK(out(ws, "echo before") == "before\n");
  auto id = agent();
  REQUIRE(::kill(id.pid, SIGSTOP) == 0);
  check_reported_unresponsive();
  check_stop_start_recovers(id);
}

TEST_CASE_METHOD(health_fixture,
                 "an agent held by a tracer is reported unresponsive and "
                 "stop/start recovers it") {
  auto id = agent();
  REQUIRE(::ptrace(PTRACE_SEIZE, id.pid, nullptr, nullptr) == 0);
  REQUIRE(::ptrace(PTRACE_INTERRUPT, id.pid, nullptr, nullptr) == 0);
  int wstatus = 0;
  REQUIRE(::waitpid(id.pid, &wstatus, __WALL) == id.pid);
  check_reported_unresponsive();
  // Only the tracer (this thread) may continue or reap the tracee, so stop
  // runs on another one meanwhile.
  auto began = clock_type::now();
  auto stopping = std::async(std::launch::async, [this] {
    return pyro({"workspace", "stop", ws, "--json"});
  });
  for (;;) {
    int st = 0;
    if (::waitpid(id.pid, &st, __WALL) != id.pid || WIFEXITED(st)
        || WIFSIGNALED(st))
      break;
    // A signal stop passes its signal on; an event stop passes none.
    int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
    ::ptrace(PTRACE_CONT, id.pid, nullptr, sig);
  }
  auto stopped = stopping.get();
  check_stopped(stopped, clock_type::now() - began, id);
  check_start_recovers();
}

TEST_CASE_METHOD(health_fixture,
                 "a killed agent is reported gone and start recovers it") {
  auto id = agent();
  REQUIRE(::kill(id.pid, SIGKILL) == 0);
  for (auto until = clock_type::now() + 5s;
       vmm::alive(id) && clock_type::now() < until;)
    std::this_thread::sleep_for(10ms);
  REQUIRE_FALSE(vmm::alive(id));

  auto [status, took] = timed({"workspace", "status", ws});
  CHECK(took < 5s);
  CHECK(status["state"] == "agent_gone");
  auto hint = status.value("hint", "");
  INFO("hint: " << hint);
  CHECK(hint.find("pyro workspace start " + ws) != std::string::npos);

  auto list = pyro_json({"workspace", "list"});
  REQUIRE(list["workspaces"].size() == 1);
  CHECK(list["workspaces"][0]["state"] == "agent_gone");

  auto [exec, exec_took] = timed({"workspace", "exec", ws, "--", "true"}, 5);
  CHECK(exec_took < 5s);
  CHECK(exec["error"]["code"] == "failed_precondition");
  CHECK(exec["error"].value("hint", "").find("pyro workspace start " + ws)
        != std::string::npos);

  auto started = pyro_json({"workspace", "start", ws});
  CHECK(started["state"] == "started");
  CHECK(out(ws, "echo ok") == "ok\n");
  CHECK(pyro_json({"workspace", "status", ws})["state"] == "started");
}
