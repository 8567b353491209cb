// Sandbox create-to-first-exec: a pyro workspace on the sandbox backend
// created and running `/bin/true` through its agent, beside bubblewrap
// running the same command in the same root file system, and a bare
// unshare+chroot+exec floor, all in one run. Target: p50 < 50 ms and faster
// than bwrap. pyro is measured three ways: pooled (a parked sandbox is
// ready, as it is when creates are not back to back; interleaved with the
// floor and bwrap, one sample of each per round), cold (no pool: the
// sandbox is built during the create) and back to back (creates as fast as
// they go, the pool refilling behind them, so each takes a parked sandbox
// only when the refill has kept up).

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

// pyro as a user's program drives it, on a home of its own so that no row
// takes another's parked sandboxes.
class pyro_user {
public:
  pyro_user(const fs::path& home, int pool)
    : sdk_{pyro::pyro_options{home, std::chrono::minutes{1}, pool}}, store_{
                                                                       home} {
    // nop
  }

  pyro_user(const pyro_user&) = delete;
  pyro_user& operator=(const pyro_user&) = delete;

  ~pyro_user() {
    delete_created();
  }

  void delete_created() {
    for (const auto& id : created_)
      static_cast<void>(sdk_.delete_workspace(id));
    created_.clear();
  }

  bool create_and_exec(const pyro::create_request& create,
                       const pyro::exec_request& exec) {
    auto ws = sdk_.create_workspace(create);
    if (!ws) {
      std::fprintf(stderr, "create failed: %s\n", ws.err().message.c_str());
      return false;
    }
    created_.push_back(ws->workspace_id);
    auto r = sdk_.exec_workspace(ws->workspace_id, exec);
    return r && r->outcome.exit_code == 0;
  }

  // Untimed: until the pool has parked a sandbox again, as it has when
  // creates are not back to back.
  void wait_for_parked() const {
    pyro::sandbox_pool parked{store_};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (parked.slots().empty()
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }

private:
  pyro::Pyro sdk_;
  pyro::state_store store_;
  std::vector<std::string> created_;
};

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

  // The rows the target compares are measured in turn, one sample of each
  // per round, so that the machine's drift during the run (this one shares
  // its host) weighs on each alike.
  std::vector<pyro::bench::series> together;
  together.push_back({"unshare+chroot+exec (floor)", [&] {
                        return unshare_chroot(rootfs);
                      }});
  auto bwrap = pyro::vmm::find_executable("bwrap");
  if (!bwrap.empty())
    together.push_back({"bwrap --unshare-all /bin/true", [&] {
                          return run_and_wait(
                            {bwrap, "--unshare-all", "--die-with-parent",
                             "--bind", rootfs.string(), "/", "--proc", "/proc",
                             "--dev", "/dev", "/bin/true"});
                        }});
  else
    std::printf("bwrap not installed: skipping its row\n");
  std::vector<pyro::bench::samples> rows;
  {
    pyro_user pooled{dir / "pooled", 1};
    together.push_back({"pyro create + first exec, pooled",
                        [&] { return pooled.create_and_exec(create, exec); },
                        [&] {
                          // A user's workspace is gone again before the next
                          // round, so that the sandboxes alive (whose
                          // namespaces weigh on creating new ones, as floor and
                          // bwrap do) do not pile up.
                          pooled.delete_created();
                          pooled.wait_for_parked();
                        }});
    rows = pyro::bench::measure_interleaved(together, 3, runs);
  }
  auto floor = rows.front();
  {
    pyro_user cold{dir / "cold", 0};
    rows.push_back(
      pyro::bench::measure("pyro create + first exec, cold", 3, runs,
                           [&] { return cold.create_and_exec(create, exec); }));
  }
  {
    pyro_user back_to_back{dir / "back-to-back", 1};
    rows.push_back(pyro::bench::measure(
      "pyro create + first exec, back to back", 3, runs,
      [&] { return back_to_back.create_and_exec(create, exec); }));
  }
  pyro::bench::report("sandbox create-to-first-exec", rows, floor);
  fs::remove_all(dir);
  return 0;
}
