#include <chrono>
#include <csignal>
#include <set>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/sandbox_pool.hpp"
#include "frontends/sdk/pyro.hpp"
#include "sandbox_fixture.hpp"
#include "vmm/process_identity.hpp"

using namespace pyro;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::set<std::string> parked_slots(const fs::path& home) {
  state_store store{home};
  return sandbox_pool{store}.slots();
}

std::string wait_for_slot(const fs::path& home) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto slots = parked_slots(home); !slots.empty())
      return *slots.begin();
    std::this_thread::sleep_for(5ms);
  }
  FAIL("no sandbox was parked within 20 s");
  return {};
}

pid_t recorded_pid(const fs::path& runtime_dir) {
  std::ifstream in{runtime_dir / "pid.json"};
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j.value("pid", 0) : 0;
}

bool cgroup_exists(const std::string& name) {
  for (const char* root :
       {"/sys/fs/cgroup/pyro", "/sys/fs/cgroup/unified/pyro",
        "/sys/fs/cgroup/memory/pyro", "/sys/fs/cgroup/cpu/pyro",
        "/sys/fs/cgroup/pids/pyro"})
    if (fs::exists(fs::path{root} / name))
      return true;
  return false;
}

struct pool_fixture : test::sandbox_fixture {
  pool_fixture() {
    ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache.path().c_str(), 1);
  }

  [[nodiscard]] pyro_options options(int pool) const {
    pyro_options o{home.path(), std::chrono::minutes{2}};
    o.sandbox_pool = pool;
    return o;
  }

  /// A first (cold) create, after which the pool parks a sandbox: returns
  /// its slot and sets `parked` to its PID 1.
  [[nodiscard]] std::string prime(Pyro& sdk, pid_t& parked) const {
    create_request request;
    request.environment = "busybox";
    REQUIRE(sdk.create_workspace(request));
    auto slot = wait_for_slot(home.path());
    parked = recorded_pid(home.path() / "pool" / slot / "runtime");
    REQUIRE(parked > 0);
    return slot;
  }

  static std::string run(Pyro& sdk, const std::string& id,
                         const std::string& command) {
    exec_request exec;
    exec.command = command;
    auto r = sdk.exec_workspace(id, exec);
    REQUIRE(r);
    INFO(command << "\nstderr: " << r->outcome.stderr_text);
    CHECK(r->outcome.exit_code == 0);
    return r->outcome.stdout_text;
  }
};

} // namespace

TEST_CASE_METHOD(pool_fixture,
                 "a create takes a parked sandbox, confined like any other",
                 "[e2e][sandbox][pool]") {
  Pyro sdk{options(1)};
  pid_t parked_pid = 0;
  auto slot = prime(sdk, parked_pid);
  CHECK(cgroup_exists(slot) == fs::exists("/sys/fs/cgroup/memory/pyro"));
  // The baseline of the untouched /workspace was taken at park time.
  auto parked_baseline
    = home.path() / "pool" / slot / "baseline" / "manifest.json";
  struct stat taken {};
  REQUIRE(::stat(parked_baseline.c_str(), &taken) == 0);

  create_request request;
  request.environment = "busybox";
  auto ws = sdk.create_workspace(request);
  REQUIRE(ws);
  auto id = ws->workspace_id;
  CHECK(recorded_pid(workspace_dir(id) / "runtime") == parked_pid);
  CHECK_FALSE(fs::exists(home.path() / "pool" / slot));
  struct stat kept {};
  REQUIRE(
    ::stat((workspace_dir(id) / "baseline" / "manifest.json").c_str(), &kept)
    == 0);
  CHECK(kept.st_ino == taken.st_ino);
  // The agent that served the baseline is gone: only PID 1 is an agent.
  CHECK(run(sdk, id, "grep -l pyro-agent /proc/[0-9]*/comm")
        == "/proc/1/comm\n");

  // Everything a cold sandbox guarantees holds for a claimed one.
  CHECK(run(sdk, id, "hostname") == id + "\n");
  CHECK_THAT(run(sdk, id, "cat /proc/1/cmdline | tr '\\0' ' '"),
             Catch::StartsWith("/run/pyro-agent"));
  CHECK(run(sdk, id, "ls /sys/class/net") == "lo\n");
  auto caps = std::stoull(
    run(sdk, id, "grep CapEff /proc/self/status | cut -f2"), nullptr, 16);
  CHECK((caps & (1ull << 21)) == 0); // CAP_SYS_ADMIN
  CHECK(run(sdk, id, "grep NoNewPrivs /proc/self/status")
        == "NoNewPrivs:\t1\n");
  CHECK_THAT(run(sdk, id, "grep Seccomp: /proc/self/status"),
             Catch::Contains("2"));
  exec_request mount;
  mount.command = "mount -t tmpfs none /mnt";
  CHECK(sdk.exec_workspace(id, mount)->outcome.exit_code != 0);
  CHECK(run(sdk, id, "ls -A /workspace") == "");
  CHECK_FALSE(fs::exists(home.path() / "pool" / slot / "runtime"));
  CHECK_FALSE(fs::exists(workspace_dir(id) / "runtime" / "sock" / "park.sock"));

  // Its baseline, diff and stop/start work as for any workspace.
  run(sdk, id, "echo kept > /workspace/file");
  auto diff = sdk.diff_workspace(id);
  REQUIRE(diff);
  CHECK(diff->summary.added == 1);
  REQUIRE(sdk.stop_workspace(id));
  CHECK_FALSE(vmm::alive(vmm::identity_of(parked_pid)));
  CHECK_FALSE(cgroup_exists(slot));
  REQUIRE(sdk.start_workspace(id));
  CHECK(run(sdk, id, "cat /workspace/file") == "kept\n");
  CHECK(run(sdk, id, "hostname") == id + "\n");
  REQUIRE(sdk.delete_workspace(id));
}

TEST_CASE_METHOD(pool_fixture,
                 "a seeded create takes a parked sandbox and its own baseline",
                 "[e2e][sandbox][pool]") {
  Pyro sdk{options(1)};
  pid_t parked_pid = 0;
  auto slot = prime(sdk, parked_pid);
  CHECK(fs::exists(home.path() / "pool" / slot / "baseline"));
  test::temp_dir host;
  fs::create_directories(host.path() / "seed");
  std::ofstream{host.path() / "seed" / "README.md"} << "# seed\n";

  create_request request;
  request.environment = "busybox";
  request.seed_path = host.path() / "seed";
  auto ws = sdk.create_workspace(request);
  REQUIRE(ws);
  auto id = ws->workspace_id;
  CHECK(recorded_pid(workspace_dir(id) / "runtime") == parked_pid);
  CHECK(run(sdk, id, "cat /workspace/README.md") == "# seed\n");
  auto diff = sdk.diff_workspace(id);
  REQUIRE(diff);
  CHECK_FALSE(diff->changed);
  run(sdk, id, "rm /workspace/README.md");
  diff = sdk.diff_workspace(id);
  REQUIRE(diff);
  CHECK(diff->summary.deleted == 1);
}

TEST_CASE_METHOD(pool_fixture,
                 "the SDK drains the sandboxes it parked when it goes",
                 "[e2e][sandbox][pool]") {
  pid_t parked_pid = 0;
  std::string slot;
  {
    Pyro sdk{options(1)};
    create_request request;
    request.environment = "busybox";
    auto ws = sdk.create_workspace(request);
    REQUIRE(ws);
    slot = wait_for_slot(home.path());
    parked_pid = recorded_pid(home.path() / "pool" / slot / "runtime");
    REQUIRE(vmm::alive(vmm::identity_of(parked_pid)));
    REQUIRE(sdk.delete_workspace(ws->workspace_id));
  }
  CHECK(parked_slots(home.path()).empty());
  CHECK_FALSE(vmm::alive(vmm::identity_of(parked_pid)));
  CHECK_FALSE(cgroup_exists(slot));
  CHECK_FALSE(fs::exists(home.path() / "pool" / slot));
}

TEST_CASE_METHOD(pool_fixture,
                 "another process claims a parked sandbox; stale or dead "
                 "ones are never handed out",
                 "[e2e][sandbox][pool]") {
  Pyro sdk{options(1)};
  pid_t parked_pid = 0;
  auto slot = prime(sdk, parked_pid);

  SECTION("the CLI, a process of its own, takes it") {
    auto id = create();
    CHECK(recorded_pid(workspace_dir(id) / "runtime") == parked_pid);
    CHECK(out(id, "hostname") == id + "\n");
  }
  SECTION("a slot built by another agent is drained, not claimed") {
    auto slot_file = home.path() / "pool" / slot / "slot.json";
    std::ifstream in{slot_file};
    auto j = nlohmann::json::parse(in);
    j["build"]["agent"]["mtime"] = 1;
    std::ofstream{slot_file} << j.dump();
    auto id = create();
    CHECK(recorded_pid(workspace_dir(id) / "runtime") != parked_pid);
    CHECK_FALSE(vmm::alive(vmm::identity_of(parked_pid)));
    CHECK_FALSE(fs::exists(home.path() / "pool" / slot));
  }
  SECTION("a dead parked sandbox means a cold boot") {
    ::kill(parked_pid, SIGKILL);
    for (int i = 0; i < 200 && vmm::alive(vmm::identity_of(parked_pid)); ++i)
      std::this_thread::sleep_for(10ms);
    auto id = create();
    CHECK(recorded_pid(workspace_dir(id) / "runtime") != parked_pid);
    CHECK(out(id, "hostname") == id + "\n");
    CHECK_FALSE(fs::exists(home.path() / "pool" / slot));
  }
  SECTION("a workspace of another size does not fit") {
    auto id = create({"--vcpu-count", "2"});
    CHECK(recorded_pid(workspace_dir(id) / "runtime") != parked_pid);
    CHECK(fs::exists(home.path() / "pool" / slot));
  }
}

TEST_CASE_METHOD(pool_fixture,
                 "a parked sandbox refuses a hostname that is not an id",
                 "[e2e][sandbox][pool]") {
  Pyro sdk{options(1)};
  pid_t parked_pid = 0;
  auto runtime = home.path() / "pool" / prime(sdk, parked_pid) / "runtime";
  auto answer
    = test::run_process({"/usr/bin/python3", "-c",
                         "import socket,sys; s=socket.socket(socket.AF_UNIX); "
                         "s.connect(sys.argv[1]); s.sendall(b'../../etc\\n'); "
                         "print(s.recv(512).decode())",
                         (runtime / "sock" / "park.sock").string()});
  CHECK_THAT(answer.out, Catch::Contains("invalid hostname"));
  for (int i = 0; i < 200 && vmm::alive(vmm::identity_of(parked_pid)); ++i)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(vmm::alive(vmm::identity_of(parked_pid)));
}

TEST_CASE_METHOD(pool_fixture,
                 "a parked sandbox ends with a keeper killed before draining",
                 "[e2e][sandbox][pool]") {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t keeper = ::fork();
  if (keeper == 0) { // no actor system exists yet in this process
    ::close(report[0]);
    Pyro sdk{options(1)};
    create_request request;
    request.environment = "busybox";
    if (!sdk.create_workspace(request))
      ::_exit(1);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (parked_slots(home.path()).empty()
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    auto slots = parked_slots(home.path());
    pid_t parked
      = slots.empty()
          ? 0
          : recorded_pid(home.path() / "pool" / *slots.begin() / "runtime");
    [[maybe_unused]] auto n = ::write(report[1], &parked, sizeof(parked));
    ::pause();
    ::_exit(0);
  }
  ::close(report[1]);
  pid_t parked = 0;
  REQUIRE(::read(report[0], &parked, sizeof(parked)) == sizeof(parked));
  ::close(report[0]);
  REQUIRE(parked > 0);
  REQUIRE(vmm::alive(vmm::identity_of(parked)));
  ::kill(keeper, SIGKILL);
  ::waitpid(keeper, nullptr, 0);
  for (int i = 0; i < 300 && vmm::alive(vmm::identity_of(parked)); ++i)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(vmm::alive(vmm::identity_of(parked)));
  // What it left is never handed out: the next create boots its own.
  auto id = create();
  CHECK(recorded_pid(workspace_dir(id) / "runtime") != parked);
  CHECK(parked_slots(home.path()).empty());
}
