// The qemu backend end to end: a real guest (Debian's kernel under QEMU,
// software emulation on hosts without a usable KVM) booted from the busybox
// environment's VM images, driven through the `pyro` CLI.

#include <set>

#include <catch2/catch.hpp>

#include "sandbox_fixture.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"
#include "vmm/qemu/kvm_probe.hpp"

namespace fs = std::filesystem;
using pyro::test::sandbox_fixture;

namespace {

// Processes whose command line names `needle` (QEMU names its disk and
// sockets, pyro-vm its launch file, all under the workspace directory).
std::string processes_naming(const std::string& needle) {
  return pyro::test::run_process({"/usr/bin/pgrep", "-af", needle}).out;
}

std::string create_vm(const sandbox_fixture& f) {
  auto j = f.pyro_json({"workspace", "create", "busybox", "--backend", "qemu"});
  CHECK(j["backend"] == "qemu");
  CHECK(j["execution_mode"] == "guest_serial");
  return j["workspace_id"].get<std::string>();
}

} // namespace

TEST_CASE("qemu: create, exec, sync push, diff, export, stop, disk list and "
          "read, start, exec again, delete") {
  sandbox_fixture f;
  auto id = create_vm(f);
  auto dir = f.workspace_dir(id);

  // A guest kernel of its own, the agent as PID 1, the workspace id as the
  // hostname.
  auto facts = f.out(id, "uname -r; hostname; cat /proc/1/comm");
  CHECK(facts.find("amd64") != std::string::npos);
  CHECK(facts.find(pyro::test::run_process({"/bin/uname", "-r"}).out)
        == std::string::npos);
  CHECK(facts.find(id + "\n") != std::string::npos);
  CHECK(facts.find("pyro-agent") != std::string::npos);

  pyro::test::temp_dir seed;
  std::ofstream{seed.path() / "note.txt"} << "from the host\n";
  f.pyro_json({"workspace", "sync", "push", id, seed.path().string()});
  f.out(id, "echo made in the guest > /workspace/made.txt");

  auto diff = f.pyro_json({"workspace", "diff", id});
  CHECK(diff["summary"]["added"] == 2);
  CHECK(diff["patch"].get<std::string>().find("+made in the guest")
        != std::string::npos);

  pyro::test::temp_dir out;
  auto exported = out.path() / "made.txt";
  f.pyro_json(
    {"workspace", "export", id, "made.txt", "--output", exported.string()});
  std::ifstream in{exported};
  CHECK(std::string{std::istreambuf_iterator<char>{in}, {}}
        == "made in the guest\n");

  // Disk tools want the guest stopped.
  auto running = f.pyro({"workspace", "disk", "list", id});
  CHECK(running.exit_code != 0);
  CHECK(running.err.find("is running") != std::string::npos);

  f.pyro_json({"workspace", "stop", id});
  CHECK(f.pyro_json({"workspace", "status", id})["state"] == "stopped");
  CHECK(processes_naming(dir.string()).empty());

  auto listed = f.pyro_json(
    {"workspace", "disk", "list", id, "/workspace", "--recursive"});
  std::set<std::string> paths;
  for (const auto& e : listed["entries"])
    paths.insert(e["path"].get<std::string>());
  CHECK(paths.count("/workspace/note.txt") == 1);
  CHECK(paths.count("/workspace/made.txt") == 1);
  auto read = f.pyro_json({"workspace", "disk", "read", id, "note.txt"});
  CHECK(read["content"] == "from the host\n");
  auto image = out.path() / "disk.ext4";
  auto disk = f.pyro_json(
    {"workspace", "disk", "export", id, "--output", image.string()});
  CHECK(disk["disk_format"] == "ext4");
  auto cat = pyro::test::run_process(
    {"/usr/sbin/debugfs", "-R", "cat /workspace/made.txt", image.string()});
  CHECK(cat.out == "made in the guest\n");

  // The same disk boots again: /workspace survived the stop.
  f.pyro_json({"workspace", "start", id});
  CHECK(f.out(id, "cat /workspace/note.txt /workspace/made.txt")
        == "from the host\nmade in the guest\n");

  f.pyro_json({"workspace", "delete", id});
  CHECK_FALSE(fs::exists(dir));
  CHECK(processes_naming(dir.string()).empty());
}

TEST_CASE("qemu: a guest that is not ready within its boot timeout fails "
          "create and leaves nothing behind") {
  sandbox_fixture f;
  // Warm the images first, so the timeout measures the boot only.
  auto ready = create_vm(f);
  f.pyro_json({"workspace", "delete", ready});

  auto started = std::chrono::steady_clock::now();
  auto r = pyro::test::run_process(
    {PYRO_BIN, "workspace", "create", "busybox", "--backend", "qemu"},
    {{"PYRO_HOME", f.home.path().string()},
     {"PYRO_ENVIRONMENT_CACHE_DIR", f.cache.path().string()},
     {"PYRO_VM_BOOT_TIMEOUT_SECONDS", "0.5"},
     // A restore can beat half a second; a cold boot cannot.
     {"PYRO_VM_WARM", "0"}});
  auto took = std::chrono::steady_clock::now() - started;
  INFO(r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("did not become ready") != std::string::npos);
  CHECK(took < std::chrono::seconds{15});
  CHECK(f.pyro_json({"workspace", "list"})["workspaces"].empty());
  CHECK(processes_naming(f.home.path().string()).empty());
  auto left = fs::directory_iterator(f.home.path() / "workspaces");
  CHECK(left == fs::directory_iterator{});
}

TEST_CASE("disk tools refuse a workspace that is not a VM") {
  sandbox_fixture f;
  auto id = f.create();
  f.pyro_json({"workspace", "stop", id});
  auto r = f.pyro({"workspace", "disk", "list", id});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("VM disks only") != std::string::npos);
}

TEST_CASE("qemu: workspaces restored from one warm snapshot are each their "
          "own") {
  sandbox_fixture f;
  auto a = create_vm(f);
  auto b = create_vm(f);
  // The second came from the snapshot the first one's create took.
  auto warm = f.cache.path() / "busybox" / "vm" / "warm";
  REQUIRE(fs::exists(warm));
  const std::string probe
    = "hostname; date +%s; head -c 16 /dev/urandom | od -An -tx1";
  auto out_a = f.out(a, probe);
  auto out_b = f.out(b, probe);
  CHECK(out_a.rfind(a + "\n", 0) == 0);
  CHECK(out_b.rfind(b + "\n", 0) == 0);
  // The clock is the host's, not the moment of the snapshot.
  auto guest_now = std::stoll(out_b.substr(out_b.find('\n') + 1));
  auto host_now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  CHECK(std::llabs(guest_now - host_now) < 30);
  // Clones of one memory image would draw the same random bytes without
  // the reseed.
  auto random_of = [](const std::string& out) {
    return out.substr(out.rfind('\n', out.size() - 2) + 1);
  };
  CHECK(random_of(out_a) != random_of(out_b));
  // Writes of one never show in the other.
  f.out(a, "echo mine > /workspace/only-a");
  CHECK(f.out(b, "test -e /workspace/only-a && echo yes || echo no") == "no\n");
}

TEST_CASE("qemu: the accelerator probe boots the guest kernel, and refuses "
          "this host's KVM when it cannot") {
  sandbox_fixture f;
  auto pulled = f.pyro({"env", "pull", "busybox"});
  REQUIRE(pulled.exit_code == 0);
  auto images = pyro::vmm::vm_images_of(f.cache.path() / "busybox");
  REQUIRE(pyro::vmm::vm_images_complete(images.dir.parent_path()));
  auto tcg
    = pyro::vmm::probe_accelerator(images, "tcg", std::chrono::seconds{60});
  INFO(tcg.reason);
  CHECK(tcg.ok);
  CHECK(tcg.reason.find("reached the guest's init") != std::string::npos);
  // Where the cheap checks say KVM cannot run stock kernels, a forced boot
  // under it must not pass either (and must end within its deadline).
  const auto& facts = pyro::vmm::cached_host_facts();
  if (facts.kvm.exists && facts.kvm.writable && !facts.kvm.stock_guest.ok) {
    auto started = std::chrono::steady_clock::now();
    auto kvm
      = pyro::vmm::probe_accelerator(images, "kvm", std::chrono::seconds{5});
    INFO(kvm.reason);
    CHECK_FALSE(kvm.ok);
    CHECK(std::chrono::steady_clock::now() - started
          < std::chrono::seconds{10});
  }
}
