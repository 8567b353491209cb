// VM boot under the qemu backend, in one run: the bare floor (the same
// kernel and QEMU machine booting an initramfs whose init only prints a
// line), a cold boot to a ready agent (the guest image, the agent as init,
// the root disk mounted, the agent answering over virtio-serial), and a
// warm create-to-first-exec (a workspace restored from the memory
// snapshot, personalised, baselined, running /bin/true). Targets: cold
// within 1.3x of the floor; warm create-to-first-exec under 1.5 s.

#include <filesystem>
#include <fstream>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/latency.hpp"
#include "frontends/sdk/pyro.hpp"
#include "vmm/environment_install.hpp"
#include "vmm/guest/shell.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"
#include "vmm/qemu/qemu_backend.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* floor_marker = "pyro-floor-ready";

// busybox as the whole initramfs: /init prints the marker and powers off.
bool build_floor_initrd(const fs::path& dir, const fs::path& out) {
  auto tree = dir / "floor";
  fs::create_directories(tree / "bin");
  fs::create_directories(tree / "dev");
  fs::copy_file("/bin/busybox", tree / "bin" / "busybox");
  std::ofstream{tree / "init"} << "#!/bin/busybox sh\n"
                               << "/bin/busybox echo " << floor_marker << "\n"
                               << "/bin/busybox poweroff -f\n";
  fs::permissions(tree / "init", fs::perms::owner_all | fs::perms::group_read
                                   | fs::perms::others_read);
  using pyro::vmm::shell_quote;
  return static_cast<bool>(pyro::vmm::run_shell(
    "cd " + shell_quote(tree) + " && mknod dev/console c 5 1"
      + " && find . | /bin/busybox cpio -o -H newc > " + shell_quote(out)
      + " 2>/dev/null",
    1min));
}

// Boots the floor and waits for its line on the serial console.
bool boot_floor(const pyro::vmm::vm_images& images, const fs::path& initrd,
                int mem_mib) {
  pyro::vmm::qemu_settings s;
  s.binary = pyro::vmm::find_executable("qemu-system-x86_64");
  s.mem_mib = mem_mib;
  s.kernel = images.kernel();
  s.initrd = initrd;
  s.tsc_khz = pyro::vmm::host_tsc_khz();
  auto argv
    = pyro::vmm::qemu_machine_argv(s, "stdio", pyro::vmm::base_command_line(s));
  int out[2];
  if (::pipe(out) != 0)
    return false;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string seen;
  bool found = false;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    auto n = ::read(out[0], buf, sizeof buf);
    if (n <= 0)
      break;
    seen.append(buf, static_cast<size_t>(n));
    found = seen.find(floor_marker) != std::string::npos;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(out[0]);
  return found;
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 6;
  if (pyro::vmm::find_executable("qemu-system-x86_64").empty()) {
    std::printf("qemu-system-x86_64 is not installed: nothing to measure\n");
    return 1;
  }
  std::string tmpl = "/tmp/pyro-vmbench-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl.data());
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir / "cache").c_str(), 1);
  auto env = pyro::vmm::pull_environment("busybox", {}, false,
                                         pyro::vmm::vm_images_policy::always);
  if (!env) {
    std::fprintf(stderr, "%s\n", env.err().message.c_str());
    return 1;
  }
  auto images = pyro::vmm::vm_images_of(env->path);
  constexpr int mem_mib = 1024;
  auto floor_initrd = dir / "floor.cpio";
  if (!build_floor_initrd(dir, floor_initrd)) {
    std::fprintf(stderr, "cannot build the floor initramfs\n");
    return 1;
  }

  std::vector<pyro::bench::samples> rows;
  auto floor
    = pyro::bench::measure("bare kernel to first line (floor)", 1, runs, [&] {
        return boot_floor(images, floor_initrd, mem_mib);
      });
  rows.push_back(floor);

  pyro::vmm::qemu_backend qemu{"tcg"};
  int n = 0;
  ::setenv("PYRO_VM_WARM", "0", 1);
  rows.push_back(
    pyro::bench::measure("qemu cold boot to agent ready", 1, runs, [&] {
      pyro::vmm::sandbox_spec spec;
      spec.workspace_id = "bench-" + std::to_string(++n);
      spec.workspace_dir = dir / "ws" / spec.workspace_id;
      spec.rootfs = env->path / "rootfs";
      spec.mem_mib = mem_mib;
      auto booted = qemu.boot(spec);
      static_cast<void>(qemu.destroy(spec));
      if (!booted)
        std::fprintf(stderr, "%s\n", booted.err().message.c_str());
      return static_cast<bool>(booted);
    }));
  ::unsetenv("PYRO_VM_WARM");

  pyro::Pyro sdk{pyro::pyro_options{dir / "home", std::chrono::minutes{2}}};
  pyro::create_request create;
  create.environment = "busybox";
  create.backend = "qemu";
  create.mem_mib = mem_mib;
  pyro::exec_request exec;
  exec.command = "/bin/true";
  rows.push_back(
    pyro::bench::measure("qemu warm create + first exec", 1, runs, [&] {
      auto ws = sdk.create_workspace(create);
      if (!ws) {
        std::fprintf(stderr, "%s\n", ws.err().message.c_str());
        return false;
      }
      auto r = sdk.exec_workspace(ws->workspace_id, exec);
      bool ok = r && r->outcome.exit_code == 0;
      static_cast<void>(sdk.delete_workspace(ws->workspace_id));
      return ok;
    }));
  pyro::bench::report("VM boot (qemu, software emulation)", rows, floor);
  fs::remove_all(dir);
  return 0;
}
