// What a hostile workload found reachable once, each held by a test: host
// kernel settings, host paths, the agent's channel, PID 1, processes that
// outlive their exec, and the host's disk.

#include <cstring>
#include <thread>

#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox_fixture.hpp"

using namespace pyro;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

bool process_gone(pid_t pid) {
  auto stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  return process_gone(pid);
}

// Host pids of the processes whose command line is exactly `cmdline`.
std::vector<pid_t> host_pids_running(const std::string& cmdline) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto text = slurp(e.path() / "cmdline");
    for (auto& c : text)
      if (c == '\0')
        c = ' ';
    if (text == cmdline + " " && !process_gone(std::stoi(name)))
      out.push_back(std::stoi(name));
  }
  return out;
}

// The same, once at least one is there (a service starts on its own time).
std::vector<pid_t> await_host_pids(const std::string& cmdline) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  auto pids = host_pids_running(cmdline);
  while (pids.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    pids = host_pids_running(cmdline);
  }
  return pids;
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "host kernel settings are out of reach from inside",
                 "[e2e][sandbox][hardening]") {
  auto id = create();
  auto file_max = slurp("/proc/sys/fs/file-max");
  auto core_pattern = slurp("/proc/sys/kernel/core_pattern");
  CHECK(exec(id, "echo 4242 > /proc/sys/fs/file-max")["exit_code"] != 0);
  CHECK(exec(id, "echo '|/tmp/x' > /proc/sys/kernel/core_pattern")["exit_code"]
        != 0);
  CHECK(exec(id, "echo 3 > /proc/sys/vm/drop_caches")["exit_code"] != 0);
  CHECK(exec(id, "echo h > /proc/sysrq-trigger")["exit_code"] != 0);
  CHECK(slurp("/proc/sys/fs/file-max") == file_max);
  CHECK(slurp("/proc/sys/kernel/core_pattern") == core_pattern);
  // Masked: nothing to read, wherever the kernel offers them.
  CHECK(out(id, "cat /proc/kcore /proc/keys /proc/timer_list "
                "/proc/sched_debug 2>/dev/null | wc -c")
        == "0\n");
  CHECK(out(id, "ls /sys/firmware 2>/dev/null | wc -l") == "0\n");
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "sandbox root is an unprivileged host id, and no host path "
                 "shows in its mounts",
                 "[e2e][sandbox][hardening]") {
  auto id = create();
  auto map = out(id, "cat /proc/self/uid_map");
  std::istringstream fields{map};
  long inside = -1, outside = -1, count = -1;
  fields >> inside >> outside >> count;
  CHECK(inside == 0);
  CHECK(outside != 0);
  if (::geteuid() == 0) {
    CHECK(outside == 1000000000);
    CHECK(count == 65536);
  }
  auto mounts = out(id, "cat /proc/self/mountinfo");
  CHECK(mounts.find(home.path().string()) == std::string::npos);
  CHECK(mounts.find(cache.path().string()) == std::string::npos);
  CHECK(mounts.find(fs::path{PYRO_BIN}.parent_path().string())
        == std::string::npos);
  CHECK(exec(id, "test -e /run/pyro-host")["exit_code"] != 0);
  CHECK(exec(id, "test -e /run/pyro-agent")["exit_code"] != 0);
  // Its processes run as its own ids on the host, not as root.
  pyro_json({"workspace", "service", "start", id, "idle", "--",
             "exec sleep 3131"});
  auto pids = await_host_pids("sleep 3131");
  REQUIRE(pids.size() == 1);
  auto status = slurp("/proc/" + std::to_string(pids[0]) + "/status");
  CHECK(status.find("\nUid:\t" + std::to_string(outside) + "\t")
        != std::string::npos);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "the workload cannot trace, read or stop the agent",
                 "[e2e][sandbox][hardening]") {
  auto id = create();
  CHECK(exec(id, "cat /proc/1/environ")["exit_code"] != 0);
  CHECK(exec(id, "head -c1 /proc/1/mem")["exit_code"] != 0);
  CHECK(out(id, "grep TracerPid /proc/1/status") == "TracerPid:\t0\n");
  // Signals from inside never reach PID 1 (the kernel drops SIGSTOP and
  // SIGKILL; the agent ignores the rest when they come from inside).
  exec(id, "kill -STOP 1; kill -TERM 1; kill -INT 1; kill -KILL 1; true");
  auto started = std::chrono::steady_clock::now();
  CHECK(out(id, "echo alive") == "alive\n");
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an exec owns everything it starts",
                 "[e2e][sandbox][hardening]") {
  if (::geteuid() != 0)
    FAIL("per-command cgroups need root; run the suite as root");
  auto id = create();
  // Other sessions, other process groups, a timeout wrapper, and a little
  // fork storm: all gone when the exec that started them ends.
  auto r = exec(id, "setsid sleep 301 >/dev/null 2>&1 & "
                    "(set -m; sleep 302 >/dev/null 2>&1 &) ; "
                    "timeout 100 sh -c 'sleep 303 & sleep 303' "
                    ">/dev/null 2>&1 & "
                    "for i in $(seq 40); do setsid sleep 304 "
                    ">/dev/null 2>&1 & done; echo spawned");
  CHECK(r["stdout"] == "spawned\n");
  for (const char* what : {"sleep 301", "sleep 302", "sleep 303", "sleep 304"})
    CHECK(host_pids_running(what).empty());
  CHECK(out(id, "ps | grep -c '[s]leep 30'; true") == "0\n");
  // A timed-out exec too.
  auto timed = pyro_json({"workspace", "exec", id, "--timeout-seconds", "1",
                          "--", "setsid sleep 305 & sleep 100"});
  CHECK(timed["timed_out"] == true);
  CHECK(host_pids_running("sleep 305").empty());
  // A service keeps what it starts until it is stopped.
  pyro_json({"workspace", "service", "start", id, "daemon", "--",
             "setsid sleep 306 & exec sleep 307"});
  CHECK(await_host_pids("sleep 306").size() == 1);
  pyro_json({"workspace", "service", "stop", id, "daemon"});
  CHECK(host_pids_running("sleep 306").empty());
  CHECK(host_pids_running("sleep 307").empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "delete leaves no process behind on the host backend",
                 "[e2e][host][hardening]") {
  if (::geteuid() != 0)
    FAIL("host-compat cgroups need root; run the suite as root");
  auto j = pyro_json({"workspace", "create", "busybox", "--backend", "host",
                      "--allow-host-compat"});
  auto id = j["workspace_id"].get<std::string>();
  auto quick = pyro_json({"workspace", "exec", id, "--",
                          "setsid sleep 311 >/dev/null 2>&1 & echo ok"});
  CHECK(quick["stdout"] == "ok\n");
  CHECK(host_pids_running("sleep 311").empty());
  pyro_json({"workspace", "service", "start", id, "daemon", "--",
             "setsid sleep 312 >/dev/null 2>&1 & exec sleep 313"});
  auto left = await_host_pids("sleep 312");
  REQUIRE(left.size() == 1);
  pyro_json({"workspace", "delete", id});
  CHECK(gone_within(left[0], 5s));
  CHECK(host_pids_running("sleep 313").empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a workspace's disk limit gives ENOSPC inside and spares "
                 "the host",
                 "[e2e][sandbox][hardening]") {
  if (::geteuid() != 0)
    FAIL("disk limits need root; run the suite as root");
  auto bad = pyro_json({"workspace", "create", "busybox", "--disk-mib", "8"},
                       2);
  CHECK_THAT(bad["error"]["message"].get<std::string>(),
             Catch::Contains("disk_mib"));
  auto id = create({"--disk-mib", "64"});
  auto status = pyro_json({"workspace", "status", id});
  CHECK(status["disk_mib"] == 64);
  CHECK(status["disk_limited"] == true);
  struct statvfs before {};
  REQUIRE(::statvfs(home.path().c_str(), &before) == 0);
  auto filled = exec(id, "dd if=/dev/urandom of=/workspace/big bs=1M "
                         "count=200 2>&1; sync");
  CHECK_THAT(filled["stdout"].get<std::string>(),
             Catch::Contains("No space left"));
  struct statvfs after {};
  REQUIRE(::statvfs(home.path().c_str(), &after) == 0);
  auto used = (static_cast<double>(before.f_bavail)
               - static_cast<double>(after.f_bavail))
              * static_cast<double>(before.f_frsize);
  CHECK(used < 80.0 * (1 << 20));
  // Room again once the file goes, and what was written survives a restart.
  out(id, "rm /workspace/big && echo kept > /workspace/small");
  pyro_json({"workspace", "stop", id});
  pyro_json({"workspace", "start", id});
  CHECK(out(id, "cat /workspace/small") == "kept\n");
  CHECK(std::stoi(out(id, "df -m /workspace | tail -1 | awk '{print $2}'"))
        <= 64);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "the host sends nothing to an agent socket another process "
                 "serves",
                 "[e2e][sandbox][hardening]") {
  auto id = create();
  auto socket_path = workspace_dir(id) / "runtime" / "sock" / "agent.sock";
  // Stand-in for whatever might take the path: the test listens there.
  fs::remove(socket_path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  std::string received;
  std::thread impostor{[&] {
    timeval patience{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    int conn = ::accept(fd, nullptr, nullptr);
    if (conn < 0)
      return;
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    char buf[256];
    for (ssize_t n; (n = ::read(conn, buf, sizeof(buf))) > 0;)
      received.append(buf, static_cast<size_t>(n));
    ::close(conn);
  }};
  auto refused = pyro({"workspace", "exec", id, "--json", "--", "echo hi"});
  impostor.join();
  ::close(fd);
  CHECK(refused.exit_code == 6); // unavailable
  CHECK_THAT(refused.out, Catch::Contains("refusing the agent socket"));
  CHECK(received.empty());
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a workspace's memory and pid limits are set on the host",
                 "[e2e][sandbox][hardening]") {
  if (::geteuid() != 0)
    FAIL("cgroup limits need root; run the suite as root");
  auto id = create({"--mem-mib", "256"});
  auto record = nlohmann::json::parse(
    slurp(workspace_dir(id) / "runtime" / "pid.json"));
  CHECK(record["limits"]["memory"] == true);
  CHECK(record["limits"]["pids"] == true);
  auto group = "pyro/" + record.value("cgroup", id);
  // Whichever hierarchy the host offers: unified, else v1 controllers.
  auto memory = slurp("/sys/fs/cgroup/" + group + "/memory.max")
                + slurp("/sys/fs/cgroup/memory/" + group
                        + "/memory.limit_in_bytes");
  auto pids = slurp("/sys/fs/cgroup/" + group + "/pids.max")
              + slurp("/sys/fs/cgroup/pids/" + group + "/pids.max");
  CHECK(memory == std::to_string(256 << 20) + "\n");
  CHECK(pids == "4096\n");
}
