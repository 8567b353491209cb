// PTY shells through the real agent in host mode.

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "agent_fixture.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Reads from `cursor` until `needle` shows up in what has been read.
std::string read_until(pyro::test::agent_fixture& f, const std::string& id,
                       const std::string& needle, uint64_t cursor = 0) {
  std::string seen;
  for (int i = 0; i < 200; ++i) {
    auto r = f.ok("shell_read", {{"shell_id", id}, {"cursor", cursor}});
    seen += r["output"].get<std::string>();
    cursor = r["next_cursor"];
    if (seen.find(needle) != std::string::npos)
      return seen;
    std::this_thread::sleep_for(25ms);
  }
  FAIL("never saw '" << needle << "' in: " << seen);
  return seen;
}

std::string open_shell(pyro::test::agent_fixture& f,
                       json args = json::object()) {
  auto opened = f.ok("shell_open", args);
  CHECK(opened["state"] == "running");
  return opened["shell_id"];
}

void type(pyro::test::agent_fixture& f, const std::string& id,
          const std::string& line) {
  f.ok("shell_write", {{"shell_id", id}, {"input", line + "\n"}});
}

} // namespace

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "a shell's stty size matches the cols and rows it asked for") {
  auto id = open_shell(*this, {{"cols", 97}, {"rows", 41}});
  type(*this, id, "stty size; echo END-$((40+2))");
  auto out = read_until(*this, id, "END-42");
  CHECK(out.find("41 97") != std::string::npos);
  SECTION("a resize is seen by the next command") {
    ok("shell_resize", {{"shell_id", id}, {"cols", 50}, {"rows", 10}});
    type(*this, id, "stty size; echo RESIZED-$((1+1))");
    CHECK(read_until(*this, id, "RESIZED-2").find("10 50")
          != std::string::npos);
  }
  ok("shell_close", {{"shell_id", id}});
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "shell output keeps ANSI sequences and reads by cursor") {
  auto id = open_shell(*this);
  type(*this, id, R"(printf '\033[31mred\033[0m-%s\n' DONE)");
  auto out = read_until(*this, id, "red\x1b[0m-DONE");
  CHECK(out.find("\x1b[31mred") != std::string::npos);
  // A read from the end returns nothing new; from 0 returns it all again.
  auto all = ok("shell_read", {{"shell_id", id}, {"cursor", 0}});
  auto end = all["next_cursor"].get<uint64_t>();
  auto none = ok("shell_read", {{"shell_id", id}, {"cursor", end}});
  CHECK(none["output"] == "");
  CHECK(none["next_cursor"] == end);
  CHECK(none["truncated"] == false);
  // max_chars bounds a read; the cursor then resumes where it stopped.
  auto two
    = ok("shell_read", {{"shell_id", id}, {"cursor", 0}, {"max_chars", 2}});
  CHECK(two["output"].get<std::string>().size() <= 2);
  CHECK(two["next_cursor"].get<uint64_t>() <= 2);
  ok("shell_close", {{"shell_id", id}});
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "INT interrupts a foreground sleep and the shell lives on") {
  auto id = open_shell(*this);
  // The marker shows only once the shell runs the line, so INT lands on
  // the sleep rather than on the prompt.
  type(*this, id, "echo GO-$((6*7)); sleep 100");
  read_until(*this, id, "GO-42");
  std::this_thread::sleep_for(200ms);
  auto started = std::chrono::steady_clock::now();
  ok("shell_signal", {{"shell_id", id}, {"signal", "INT"}});
  // 130 = 128 + SIGINT: the sleep died of the signal, the shell did not.
  type(*this, id, "echo AFTER-$?");
  read_until(*this, id, "AFTER-130");
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  type(*this, id, "echo STILL-$((1+2))");
  read_until(*this, id, "STILL-3");
  auto list = ok("shell_list");
  REQUIRE(list["shells"].size() == 1);
  CHECK(list["shells"][0]["state"] == "running");
  ok("shell_close", {{"shell_id", id}});
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "a shell outlives its connection and reports its exit code") {
  std::string id;
  {
    pyro::wire::agent_client other{socket};
    auto opened = other.call("shell_open", json{{"cwd", "/workspace"}});
    REQUIRE(opened);
    id = (*opened)["shell_id"];
    REQUIRE(other.call("shell_write",
                       json{{"shell_id", id}, {"input", "echo FROM-FIRST\n"}}));
  }
  read_until(*this, id, "FROM-FIRST");
  type(*this, id, "exit 7");
  json r;
  for (int i = 0; i < 200; ++i) {
    r = ok("shell_read", {{"shell_id", id}});
    if (r["state"] == "exited")
      break;
    std::this_thread::sleep_for(25ms);
  }
  CHECK(r["state"] == "exited");
  CHECK(r["exit_code"] == 7);
  auto write
    = client.call("shell_write", json{{"shell_id", id}, {"input", "x"}});
  CHECK_FALSE(write);
  ok("shell_close", {{"shell_id", id}});
  auto gone = client.call("shell_read", json{{"shell_id", id}});
  REQUIRE_FALSE(gone);
  CHECK(gone.err().code == pyro::error_code::not_found);
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "closing a shell ends its processes; wait_for_idle_ms waits") {
  auto id = open_shell(*this);
  type(*this, id, "sleep 300 & echo BG=[$!]");
  std::smatch m;
  std::string out;
  for (int i = 0; i < 200; ++i) {
    out = ok("shell_read", {{"shell_id", id}})["output"];
    if (std::regex_search(out, m, std::regex{R"(BG=\[(\d+)\])"}))
      break;
    std::this_thread::sleep_for(25ms);
  }
  REQUIRE(!m.empty());
  auto bg = std::stoi(m[1].str());
  REQUIRE(bg > 0);
  // Output that keeps coming for 400 ms is read whole after an idle wait.
  auto before
    = ok("shell_read", {{"shell_id", id}})["next_cursor"].get<uint64_t>();
  type(*this, id, "for i in 1 2 3 4; do echo tick$i; sleep 0.1; done");
  auto idle
    = ok("shell_read",
         {{"shell_id", id}, {"cursor", before}, {"wait_for_idle_ms", 300}});
  CHECK(idle["output"].get<std::string>().find("tick4") != std::string::npos);
  ok("shell_close", {{"shell_id", id}});
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(bg, 0) != 0;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(gone);
}

TEST_CASE_METHOD(pyro::test::agent_fixture, "shell requests are checked") {
  auto bad = client.call("shell_open", json{{"cols", 0}});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("cols") != std::string::npos);
  auto outside = client.call("shell_open", json{{"cwd", "/etc"}});
  REQUIRE_FALSE(outside);
  auto unknown = client.call("shell_read", json{{"shell_id", "shell-nope"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == pyro::error_code::not_found);
  auto id = open_shell(*this);
  auto sig
    = client.call("shell_signal", json{{"shell_id", id}, {"signal", "USR1"}});
  REQUIRE_FALSE(sig);
  CHECK(sig.err().message.find("USR1") != std::string::npos);
  ok("shell_close", {{"shell_id", id}});
  CHECK(agent_alive());
}
