// Services with readiness probes, and secrets, through the real agent in
// host mode.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "agent_fixture.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

json start(pyro::test::agent_fixture& f, const std::string& name,
           const std::string& command, json readiness, double timeout_s = 20) {
  return f.ok("service_start", {{"name", name},
                                {"command", command},
                                {"readiness", std::move(readiness)},
                                {"ready_timeout_seconds", timeout_s},
                                {"ready_interval_ms", 50}});
}

} // namespace

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "services become ready by each probe kind") {
  auto port = std::to_string(free_port());
  SECTION("file") {
    auto s = start(*this, "filer", "sleep 0.3; touch ready.flag; exec sleep 60",
                   {{"type", "file"}, {"path", "/workspace/ready.flag"}});
    CHECK(s["state"] == "ready");
    CHECK(std::filesystem::exists(root / "workspace/ready.flag"));
  }
  SECTION("tcp") {
    auto s = start(*this, "tcp",
                   "sleep 0.3; exec python3 -c 'import socket,time;"
                   "s=socket.socket();s.bind((\"127.0.0.1\","
                     + port + "));s.listen();time.sleep(60)'",
                   {{"type", "tcp"}, {"address", "127.0.0.1:" + port}});
    CHECK(s["state"] == "ready");
  }
  SECTION("http") {
    auto s = start(
      *this, "web", "exec python3 -m http.server --bind 127.0.0.1 " + port,
      {{"type", "http"}, {"url", "http://127.0.0.1:" + port + "/"}});
    CHECK(s["state"] == "ready");
  }
  SECTION("command") {
    auto s = start(*this, "cmd", "sleep 0.3; echo up > up.txt; exec sleep 60",
                   {{"type", "command"}, {"command", "grep -q up up.txt"}});
    CHECK(s["state"] == "ready");
  }
  SECTION("none: running at once") {
    auto s = ok("service_start", {{"name", "plain"}, {"command", "sleep 60"}});
    CHECK(s["state"] == "running");
  }
  auto list = ok("service_list")["services"];
  REQUIRE(list.size() == 1);
  auto name = list[0]["name"].get<std::string>();
  auto stopped = ok("service_stop", {{"name", name}});
  CHECK(stopped["state"] == "stopped");
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "a service that never gets ready fails after its timeout") {
  auto began = std::chrono::steady_clock::now();
  auto s = start(*this, "never", "exec sleep 60",
                 {{"type", "file"}, {"path", "never.flag"}}, 1);
  auto took = std::chrono::steady_clock::now() - began;
  CHECK(s["state"] == "failed");
  CHECK(s["reason"].get<std::string>().find("within 1 s") != std::string::npos);
  CHECK(took >= 900ms);
  CHECK(took < 10s);
  // Its process went with it.
  auto pid = s["pid"].get<int>();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(pid, 0) != 0;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(gone);
  SECTION("one that dies before it is ready fails with its exit code") {
    auto d = start(*this, "dies", "exit 3",
                   {{"type", "tcp"}, {"address", "127.0.0.1:1"}});
    CHECK(d["state"] == "failed");
    CHECK(d["reason"].get<std::string>().find("exit code 3")
          != std::string::npos);
  }
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "service logs live under /run/pyro-services, outside the "
                 "workspace, and tail") {
  auto s = ok("service_start",
              {{"name", "talker"},
               {"command", "for i in 1 2 3 4 5; do echo line$i; done; "
                           "echo oops >&2; exec sleep 60"}});
  CHECK(s["log_dir"] == "/run/pyro-services/talker");
  json logs;
  for (int i = 0; i < 100; ++i) {
    logs = ok("service_logs", {{"name", "talker"}});
    if (logs["stderr"] == "oops\n")
      break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(logs["stdout"] == "line1\nline2\nline3\nline4\nline5\n");
  auto tail = ok("service_logs", {{"name", "talker"}, {"tail_lines", 2}});
  CHECK(tail["stdout"] == "line4\nline5\n");
  CHECK(std::filesystem::exists(root / "run/pyro-services/talker/stdout.log"));
  CHECK(
    std::filesystem::exists(root / "run/pyro-services/talker/service.json"));
  // Nothing of it in /workspace, so neither in a diff nor an export.
  CHECK(std::filesystem::is_empty(root / "workspace"));
  ok("service_stop", {{"name", "talker"}});
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "stop sends TERM, then KILL after the grace period") {
  auto s = ok("service_start", {{"name", "stubborn"},
                                {"command", "trap '' TERM; echo armed; "
                                            "while :; do sleep 0.05; done"}});
  for (int i = 0; i < 100; ++i) {
    if (ok("service_logs", {{"name", "stubborn"}})["stdout"] == "armed\n")
      break;
    std::this_thread::sleep_for(20ms);
  }
  auto began = std::chrono::steady_clock::now();
  auto stopped
    = ok("service_stop", {{"name", "stubborn"}, {"grace_seconds", 0.5}});
  auto took = std::chrono::steady_clock::now() - began;
  CHECK(stopped["state"] == "stopped");
  CHECK(stopped["signal"] == SIGKILL);
  CHECK(took >= 450ms);
  SECTION("a polite one stops on TERM") {
    ok("service_start", {{"name", "polite"}, {"command", "exec sleep 60"}});
    auto p = ok("service_stop", {{"name", "polite"}});
    CHECK(p["state"] == "stopped");
    CHECK(p["signal"] == SIGTERM);
  }
  SECTION("an exited service reports exited and its name can be reused") {
    ok("service_start", {{"name", "brief"}, {"command", "exit 0"}});
    json st;
    for (int i = 0; i < 100; ++i) {
      st = ok("service_status", {{"name", "brief"}});
      if (st["state"] == "exited")
        break;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(st["state"] == "exited");
    CHECK(st["exit_code"] == 0);
    auto again
      = ok("service_start", {{"name", "brief"}, {"command", "sleep 5"}});
    CHECK(again["state"] == "running");
    auto dup = client.call("service_start",
                           json{{"name", "brief"}, {"command", "sleep 5"}});
    REQUIRE_FALSE(dup);
    CHECK(dup.err().code == pyro::error_code::already_exists);
    ok("service_stop", {{"name", "brief"}});
  }
}

TEST_CASE_METHOD(pyro::test::agent_fixture, "service requests are checked") {
  for (auto bad :
       {json{{"name", "../x"}, {"command", "true"}}, json{{"name", "ok"}},
        json{{"name", "ok"},
             {"command", "true"},
             {"readiness", {{"type", "smoke"}}}},
        json{{"name", "ok"},
             {"command", "true"},
             {"readiness", {{"type", "http"}, {"url", "ftp://x"}}}},
        json{{"name", "ok"},
             {"command", "true"},
             {"readiness", {{"type", "tcp"}, {"address", "nohost"}}}}}) {
    auto r = client.call("service_start", bad);
    INFO(bad.dump());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == pyro::error_code::invalid_argument);
  }
  auto missing = client.call("service_status", json{{"name", "ghost"}});
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == pyro::error_code::not_found);
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "secrets are 0400 files and reach only the calls that ask") {
  ok("secrets_put", {{"secrets", {{"API_TOKEN", "tok-123"}, {"OTHER", "o"}}}});
  auto file = root / "run/pyro-secrets/API_TOKEN";
  REQUIRE(std::filesystem::exists(file));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0400);
  auto asked = ok("exec", {{"command", "printf %s \"$TOKEN\""},
                           {"secret_env", {{"TOKEN", "API_TOKEN"}}}});
  CHECK(asked["stdout"] == "tok-123");
  auto not_asked = exec("printf %s \"${TOKEN:-none}${API_TOKEN:-none}\"");
  CHECK(not_asked["stdout"] == "nonenone");
  auto missing = client.call(
    "exec", json{{"command", "true"}, {"secret_env", {{"X", "NOPE"}}}});
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == pyro::error_code::not_found);
  SECTION("a new set replaces the old one") {
    ok("secrets_put", {{"secrets", {{"OTHER", "o2"}}}});
    CHECK_FALSE(std::filesystem::exists(file));
  }
  SECTION("shells and services get them too") {
    auto sh = ok("shell_open", {{"secret_env", {{"TOKEN", "API_TOKEN"}}}});
    ok("shell_write",
       {{"shell_id", sh["shell_id"]}, {"input", "echo T=$TOKEN\n"}});
    std::string seen;
    for (int i = 0; i < 200 && seen.find("T=tok-123") == std::string::npos;
         ++i) {
      seen = ok("shell_read", {{"shell_id", sh["shell_id"]}})["output"];
      std::this_thread::sleep_for(20ms);
    }
    CHECK(seen.find("T=tok-123") != std::string::npos);
    ok("shell_close", {{"shell_id", sh["shell_id"]}});
    ok("service_start", {{"name", "sec"},
                         {"command", "echo S=$TOKEN; exec sleep 30"},
                         {"secret_env", {{"TOKEN", "OTHER"}}}});
    json logs;
    for (int i = 0; i < 100; ++i) {
      logs = ok("service_logs", {{"name", "sec"}});
      if (!logs["stdout"].get<std::string>().empty())
        break;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(logs["stdout"] == "S=o\n");
    ok("service_stop", {{"name", "sec"}});
  }
}

TEST_CASE_METHOD(pyro::test::agent_fixture,
                 "a host-mode agent that is told to stop takes its services "
                 "and shells with it") {
  auto s
    = ok("service_start", {{"name", "orphan"}, {"command", "exec sleep 60"}});
  auto sh = ok("shell_open");
  auto pids = {s["pid"].get<int>(), sh["pid"].get<int>()};
  stop();
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = ::kill(pid, 0) != 0;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(gone);
  }
}
