// Sandbox create-to-first-exec: a pyro workspace on the sandbox backend
// created and running `/bin/true` through its agent, beside bubblewrap
// running the same command in the same root file system, and a bare
// unshare+chroot+exec floor, all in one run. Target: p50 < 50 ms and faster
// than bwrap. pyro is measured three ways: cold (no pool: the sandbox is
// built during the create), pooled (a parked sandbox is ready, as it is when
// creates are not back to back) and back to back (creates as fast as they
// go, the pool refilling behind them, so each takes a parked sandbox only
// when the refill has kept up).

#include <filesystem>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/sandbox_pool.hpp"
#include "bench/support/latency.hpp"
#include "frontends/sdk/pyro.hpp"
#include "vmm/environment_install.hpp"
#include "vmm/host_facts.hpp"

namespace fs = std::filesystem;

namespace {

bool run_and_wait(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The floor: namespaces, chroot, exec, nothing else.
bool unshare_chroot(const fs::path& rootfs) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC
                  | CLONE_NEWNET)
        != 0)
      ::_exit(1);
    pid_t inner = ::fork();
    if (inner == 0) {
      if (::chroot(rootfs.c_str()) != 0 || ::chdir("/") != 0)
        ::_exit(1);
      ::execl("/bin/true", "/bin/true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(inner, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 100;
  std::string tmpl = "/tmp/pyro-bench-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl.data());
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir / "cache").c_str(), 1);
  ::setenv("PYRO_BACKEND", "sandbox", 1);
  auto env = pyro::vmm::pull_environment("busybox", {}, false,
                                         pyro::vmm::vm_images_policy::never);
  if (!env) {
    std::fprintf(stderr, "%s\n", env.err().message.c_str());
    return 1;
  }
  auto rootfs = env->path / "rootfs";
  pyro::create_request create;
  create.environment = "busybox";
  pyro::exec_request exec;
  exec.command = "/bin/true";

  std::vector<pyro::bench::samples> rows;
  auto floor = pyro::bench::measure("unshare+chroot+exec (floor)", 5, runs,
                                    [&] { return unshare_chroot(rootfs); });
  rows.push_back(floor);
  auto bwrap = pyro::vmm::find_executable("bwrap");
  if (!bwrap.empty())
    rows.push_back(
      pyro::bench::measure("bwrap --unshare-all /bin/true", 5, runs, [&] {
        return run_and_wait({bwrap, "--unshare-all", "--die-with-parent",
                             "--bind", rootfs.string(), "/", "--proc", "/proc",
                             "--dev", "/dev", "/bin/true"});
      }));
  else
    std::printf("bwrap not installed: skipping its row\n");

  // Each row on a home of its own, so that no row takes another's parked
  // sandboxes.
  auto pyro_row = [&](const std::string& name, const std::string& home,
                      int pool, bool wait_for_pool) {
    pyro::Pyro sdk{
      pyro::pyro_options{dir / home, std::chrono::minutes{1}, pool}};
    pyro::state_store store{dir / home};
    pyro::sandbox_pool parked{store};
    // Untimed: a create is measured once the pool has parked its sandbox
    // again, as it has when creates are not back to back.
    auto refilled = [&] {
      auto deadline
        = std::chrono::steady_clock::now() + std::chrono::seconds{10};
      while (wait_for_pool && parked.slots().empty()
             && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
    };
    std::vector<std::string> created;
    auto row = pyro::bench::measure(name, 3, runs, refilled, [&] {
      auto ws = sdk.create_workspace(create);
      if (!ws) {
        std::fprintf(stderr, "create failed: %s\n", ws.err().message.c_str());
        return false;
      }
      created.push_back(ws->workspace_id);
      auto r = sdk.exec_workspace(ws->workspace_id, exec);
      return r && r->outcome.exit_code == 0;
    });
    for (const auto& id : created)
      static_cast<void>(sdk.delete_workspace(id));
    return row;
  };
  rows.push_back(pyro_row("pyro create + first exec, cold", "cold", 0, false));
  rows.push_back(
    pyro_row("pyro create + first exec, pooled", "pooled", 1, true));
  rows.push_back(pyro_row("pyro create + first exec, back to back",
                          "back-to-back", 1, false));
  pyro::bench::report("sandbox create-to-first-exec", rows, floor);
  fs::remove_all(dir);
  return 0;
}
