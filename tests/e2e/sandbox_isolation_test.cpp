#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_fixture.hpp"

using namespace pyro;
using test::run_process;
namespace fs = std::filesystem;

TEST_CASE_METHOD(test::sandbox_fixture,
                 "inside a sandbox the agent is PID 1 and the host is gone",
                 "[e2e][sandbox][isolation]") {
  auto id = create();
  CHECK_THAT(out(id, "cat /proc/1/cmdline | tr '\\0' ' '"),
             Catch::StartsWith("/run/pyro-agent"));
  // Only the agent, the shell and ps itself: no host process is visible.
  auto pids = out(id, "ls /proc | grep -c '^[0-9]*$'");
  CHECK(std::stoi(pids) <= 4);
  CHECK(out(id, "hostname") == id + "\n");
  CHECK(out(id, "ls /sys/class/net") == "lo\n");
  // A marker on the host is invisible inside.
  auto marker = fs::temp_directory_path() / ("pyro-marker-" + id);
  std::ofstream{marker} << "host";
  auto seen = exec(id, "test -e " + marker.string() + " && echo visible");
  CHECK(seen["stdout"] == "");
  fs::remove(marker);
  // Capabilities are reduced: no CAP_SYS_ADMIN (bit 21) or CAP_MKNOD (27).
  auto cap_eff = out(id, "grep CapEff /proc/self/status | cut -f2");
  auto caps = std::stoull(cap_eff, nullptr, 16);
  CHECK((caps & (1ull << 21)) == 0);
  CHECK((caps & (1ull << 27)) == 0);
  CHECK(caps != 0);
  CHECK(exec(id, "mknod /tmp/null c 1 3")["exit_code"] != 0);
  CHECK(exec(id, "mount -t tmpfs none /mnt")["exit_code"] != 0);
  CHECK(exec(id, "insmod /nonexistent.ko")["exit_code"] != 0);
  CHECK(out(id, "grep NoNewPrivs /proc/self/status") == "NoNewPrivs:\t1\n");
  CHECK_THAT(out(id, "grep Seccomp: /proc/self/status"), Catch::Contains("2"));
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "writes to / land in the upper layer, never the environment",
                 "[e2e][sandbox][isolation]") {
  auto id = create();
  out(id, "echo upper > /rootfile && echo ws > /workspace/wsfile");
  auto layers = workspace_dir(id) / "sandbox";
  if (fs::exists(layers / "disk.img")) {
    // Root: the upper layer lives in the workspace's own disk image.
    pyro_json({"workspace", "stop", id});
    auto listed = run_process({"/sbin/debugfs", "-R", "ls -p /upper",
                               (layers / "disk.img").string()});
    CHECK_THAT(listed.out, Catch::Contains("/rootfile/"));
    listed = run_process({"/sbin/debugfs", "-R", "ls -p /upper/workspace",
                          (layers / "disk.img").string()});
    CHECK_THAT(listed.out, Catch::Contains("/wsfile/"));
  } else {
    CHECK(fs::exists(layers / "upper" / "rootfile"));
    CHECK(fs::exists(layers / "upper" / "workspace" / "wsfile"));
  }
  CHECK_FALSE(fs::exists(cache.path() / "busybox" / "rootfs" / "rootfile"));
  CHECK_FALSE(
    fs::exists(cache.path() / "busybox" / "rootfs" / "workspace" / "wsfile"));
}

TEST_CASE_METHOD(test::sandbox_fixture, "two workspaces cannot see each other",
                 "[e2e][sandbox][isolation]") {
  auto a = create();
  auto b = create();
  out(a, "echo secret > /workspace/a-only");
  CHECK(exec(b, "test -e /workspace/a-only")["exit_code"] != 0);
  // While A runs a long command, B sees none of A's processes.
  std::thread busy{[&] {
    pyro({"workspace", "exec", a, "--", "sleep 3"});
  }};
  std::this_thread::sleep_for(std::chrono::milliseconds{700});
  CHECK(out(a, "ps | grep -v grep | grep -c 'sleep 3'; true") == "1\n");
  CHECK(out(b, "ps | grep -v grep | grep -c 'sleep 3'; true") == "0\n");
  busy.join();
  CHECK(out(b, "hostname") == b + "\n");
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a sandbox outlives a pyro process killed with SIGKILL",
                 "[e2e][sandbox][lifecycle]") {
  auto id = create();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto home_env = "PYRO_HOME=" + home.path().string();
    auto cache_env = "PYRO_ENVIRONMENT_CACHE_DIR=" + cache.path().string();
    ::putenv(home_env.data());
    ::putenv(cache_env.data());
    ::execl(PYRO_BIN, PYRO_BIN, "workspace", "exec", id.c_str(), "--",
            "sleep 20", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK(out(id, "echo still here") == "still here\n");
  auto status = pyro_json({"workspace", "status", id});
  CHECK(status["state"] == "started");
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an exec timeout kills the whole process group",
                 "[e2e][sandbox][exec]") {
  auto id = create();
  auto r = pyro_json({"workspace", "exec", id, "--timeout-seconds", "1", "--",
                      "sleep 100 & sleep 100"});
  CHECK(r["timed_out"] == true);
  CHECK(r["duration_ms"].get<int64_t>() < 5000);
  CHECK(out(id, "ps | grep -v grep | grep -c 'sleep 100'; true") == "0\n");
  // The human form exits 124, like timeout(1).
  auto human = pyro(
    {"workspace", "exec", id, "--timeout-seconds", "1", "--", "sleep 100"});
  CHECK(human.exit_code == 124);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "stop keeps /workspace and start brings it back; delete "
                 "leaves nothing",
                 "[e2e][sandbox][lifecycle]") {
  auto id = create();
  out(id, "echo kept > /workspace/kept.txt");
  auto stopped = pyro_json({"workspace", "stop", id});
  CHECK(stopped["state"] == "stopped");
  auto refused = pyro_json({"workspace", "exec", id, "--", "true"}, 5);
  CHECK_THAT(refused["error"]["message"].get<std::string>(),
             Catch::Contains("stopped"));
  pyro_json({"workspace", "start", id});
  CHECK(out(id, "cat kept.txt") == "kept\n");
  auto pid_file = workspace_dir(id) / "runtime" / "pid.json";
  auto record = nlohmann::json::parse(std::ifstream{pid_file});
  pid_t sandbox_pid = record["pid"];
  pyro_json({"workspace", "delete", id});
  CHECK_FALSE(fs::exists(workspace_dir(id)));
  // The sandbox's PID 1 is gone (or only a zombie awaiting the host init).
  std::ifstream stat{"/proc/" + std::to_string(sandbox_pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{stat}, {}};
  CHECK((text.empty() || text.find(") Z ") != std::string::npos));
}
