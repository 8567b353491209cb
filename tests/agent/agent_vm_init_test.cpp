// The agent as a VM's PID 1, short of a VM: a new pid, mount and uts
// namespace chrooted into a busybox root, where it must do init's duties
// itself (mounts, hostname, reaping orphans, a clean exit on SIGTERM).

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/run_process.hpp"
#include "../unit/temp_dir.hpp"
#include "messages/wire/agent_client.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

void build_busybox_root(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::create_directories(root / "workspace");
  fs::create_directories(root / "sock");
  fs::copy_file("/bin/busybox", root / "bin" / "busybox");
  auto applets = pyro::test::run_process({"/bin/busybox", "--list"});
  std::istringstream names{applets.out};
  for (std::string name; std::getline(names, name);)
    if (!name.empty() && name != "busybox")
      fs::create_symlink("busybox", root / "bin" / name);
  fs::copy_file(PYRO_AGENT_BIN, root / "pyro-agent");
}

// Forks into new namespaces; the grandchild is PID 1 there and becomes the
// agent. Returns the pid (in our namespace) of the unsharing child, whose
// exit status is PID 1's.
pid_t start_vm_like(const fs::path& root) {
  pid_t outer = ::fork();
  if (outer != 0)
    return outer;
  if (::unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS) != 0)
    ::_exit(120);
  pid_t init = ::fork();
  if (init == 0) {
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    if (::chroot(root.c_str()) != 0 || ::chdir("/") != 0)
      ::_exit(121);
    ::execl("/pyro-agent", "/pyro-agent", "--listen", "unix:/sock/agent.sock",
            "--hostname", "vm-under-test", static_cast<char*>(nullptr));
    ::_exit(122);
  }
  // Pass SIGTERM on to PID 1, then report how it ended.
  static pid_t child;
  child = init;
  ::signal(SIGTERM, [](int) { ::kill(child, SIGTERM); });
  int status = 0;
  while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

} // namespace

TEST_CASE("as PID 1 the agent mounts, names, reaps and exits cleanly") {
  pyro::test::temp_dir dir;
  auto root = dir.path() / "root";
  build_busybox_root(root);
  auto socket = root / "sock" / "agent.sock";
  pid_t pid = start_vm_like(root);
  for (int i = 0; i < 500 && !fs::exists(socket); ++i)
    std::this_thread::sleep_for(5ms);
  REQUIRE(fs::exists(socket));
  pyro::wire::agent_client client{socket.string()};
  auto run = [&](const std::string& command) {
    auto r = client.call("exec", json{{"command", command}});
    REQUIRE(r);
    INFO(command << ": " << (*r)["stderr"]);
    CHECK((*r)["exit_code"] == 0);
    return (*r)["stdout"].get<std::string>();
  };
  auto hello = client.call("hello", json::object());
  REQUIRE(hello);
  CHECK((*hello)["mode"] == "vm");
  CHECK((*hello)["pid"] == 1);
  CHECK(run("hostname") == "vm-under-test\n");
  auto mounts = run("cat /proc/mounts");
  for (const char* m : {" /proc proc", " /sys sysfs", " /dev devtmpfs",
                        " /dev/pts devpts", " /run tmpfs", " /tmp tmpfs"})
    CHECK(mounts.find(m) != std::string::npos);
  CHECK(run("test -c /dev/null && test -c /dev/ptmx && echo ok") == "ok\n");
  // An orphan that escaped its exec's process group ends up on PID 1,
  // which must reap it: no zombie is left.
  run("setsid sh -c 'sleep 0.2' < /dev/null > /dev/null 2>&1 &");
  std::this_thread::sleep_for(800ms);
  auto zombies = run("grep -l '^State:.*Z' /proc/[0-9]*/status || true");
  CHECK(zombies.empty());
  // A shell works on the devpts it mounted.
  auto sh = client.call("shell_open", json{{"cols", 40}, {"rows", 12}});
  REQUIRE(sh);
  CHECK(client.call("shell_close", json{{"shell_id", (*sh)["shell_id"]}}));
  // SIGTERM: sync and a clean exit, which ends the namespace.
  ::kill(pid, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
