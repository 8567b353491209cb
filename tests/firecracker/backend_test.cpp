// The Firecracker backend's whole lifecycle against a fake firecracker
// (fake_firecracker.py: the API socket, and a "guest" whose hybrid vsock
// relays to a real pyro-agent) and a fake jailer. No VM boots here: what
// this proves is pyro's side of the conversation.

#include <fstream>
#include <thread>

#include <sys/stat.h>

#include "actors/agent_link.hpp"
#include "fixtures.hpp"
#include "messages/sys/atomic_file.hpp"
#include "vmm/firecracker/firecracker_backend.hpp"
#include "vmm/firecracker/request_plan.hpp"
#include "vmm/process_identity.hpp"

using namespace pyro;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace fc = pyro::vmm::firecracker;
using nlohmann::json;
using test::scoped_env;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

// An installed environment with VM files, a workspace, a real agent for
// the fake guest, and the environment that points the backend at the fakes.
struct vm_fixture {
  test::temp_dir home;
  fs::path env = home.path() / "env";
  test::test_agent agent;
  vmm::sandbox_spec spec;
  fs::path record = home.path() / "requests.jsonl";
  fs::path fake_pid = home.path() / "fc.pid";
  scoped_env binary{"PYRO_FIRECRACKER_BINARY", FAKE_FIRECRACKER};
  scoped_env no_jailer{"PYRO_FIRECRACKER_JAILER", "0"};
  scoped_env timeout{"PYRO_VM_BOOT_TIMEOUT_SECONDS", "20"};
  scoped_env record_env{"FAKE_FC_RECORD", record.string()};
  scoped_env agent_env{"FAKE_FC_AGENT_SOCKET", agent.socket};
  scoped_env pid_env{"FAKE_FC_PID_FILE", fake_pid.string()};
  scoped_env mode{"FAKE_FC_MODE", "relay"};
  // The guest is "booting" for a while: boot must retry the CONNECT.
  scoped_env delay{"FAKE_FC_BOOT_DELAY", "0.3"};
  scoped_env refuse{"FAKE_FC_REFUSE", ""};
  std::unique_ptr<vmm::backend> backend = vmm::make_firecracker_backend();

  vm_fixture() {
    fs::create_directories(env / "rootfs");
    fs::create_directories(env / "vm");
    std::ofstream{env / "vm" / "vmlinux"} << "kernel";
    std::ofstream{env / "vm" / "initrd.img"} << "initrd";
    std::ofstream{env / "vm" / "rootfs.ext4"} << "ext4 image";
    spec.workspace_id = "ws-test";
    spec.workspace_dir = home.path() / "ws-test";
    spec.rootfs = env / "rootfs";
    spec.vcpu_count = 2;
    spec.mem_mib = 512;
  }

  ~vm_fixture() {
    static_cast<void>(backend->destroy(spec));
  }

  fs::path runtime() const {
    return spec.runtime_dir();
  }

  std::vector<json> recorded() const {
    std::vector<json> out;
    std::ifstream in{record};
    for (std::string line; std::getline(in, line);)
      out.push_back(json::parse(line));
    return out;
  }

  /// The plan the backend should have sent, with paths as given.
  std::vector<json> expected(const std::string& kernel,
                             const std::string& initrd, const std::string& disk,
                             const std::string& vsock) const {
    fc::boot_description vm;
    vm.vcpu_count = 2;
    vm.mem_mib = 512;
    vm.kernel_path = kernel;
    vm.initrd_path = initrd;
    vm.rootfs_path = disk;
    vm.boot_args = fc::kernel_boot_args("ws-test");
    vm.vsock_uds_path = vsock;
    auto plan = fc::boot_plan(vm);
    REQUIRE(plan);
    std::vector<json> out;
    for (const auto& r : *plan)
      out.push_back({{"method", r.method}, {"path", r.path}, {"body", r.body}});
    return out;
  }

  bool fake_alive() const {
    auto text = slurp(fake_pid);
    if (text.empty())
      return false;
    // A zombie counts as gone: our container's init may be slow to reap.
    return vmm::alive(vmm::identity_of(std::stoi(text)));
  }

  bool eventually_gone() const {
    for (int i = 0; i < 200 && fake_alive(); ++i)
      std::this_thread::sleep_for(10ms);
    return !fake_alive();
  }
};

std::string text_of(const status& s) {
  return s ? std::string{} : to_string(s.err());
}

template <class T>
std::string text_of(const result<T>& r) {
  return r ? std::string{} : to_string(r.err());
}

} // namespace

TEST_CASE("firecracker backend: what it reports") {
  auto b = vmm::make_firecracker_backend();
  CHECK(b->name() == "firecracker");
  CHECK(b->execution_mode() == "guest_vsock");
  auto caps = b->capabilities();
  CHECK(caps.isolated);
  CHECK(caps.vm);
  CHECK(caps.resource_limits);
  CHECK_FALSE(caps.network_egress);
}

TEST_CASE("firecracker backend: prepare copies the disk once") {
  vm_fixture f;
  REQUIRE(f.backend->prepare(f.spec));
  auto disk = f.spec.workspace_dir / "vm" / "rootfs.ext4";
  CHECK(slurp(disk) == "ext4 image");
  struct stat st {};
  REQUIRE(::stat(f.runtime().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  std::ofstream{disk} << "the guest wrote this";
  REQUIRE(f.backend->prepare(f.spec));
  CHECK(slurp(disk) == "the guest wrote this");
}

TEST_CASE("firecracker backend: an environment without VM files") {
  vm_fixture f;
  fs::remove(f.env / "vm" / "rootfs.ext4");
  auto prepared = f.backend->prepare(f.spec);
  REQUIRE_FALSE(prepared);
  CHECK(prepared.err().code == error_code::failed_precondition);
  CHECK(prepared.err().message.find((f.env / "vm" / "rootfs.ext4").string())
        != std::string::npos);

  vm_fixture g;
  fs::remove(g.env / "vm" / "vmlinux");
  auto booted = g.backend->boot(g.spec);
  REQUIRE_FALSE(booted);
  CHECK(booted.err().code == error_code::failed_precondition);
  CHECK(booted.err().message.find("no VM kernel at") != std::string::npos);
  CHECK_FALSE(fs::exists(g.fake_pid)); // nothing was started
}

TEST_CASE("firecracker backend: boot, reach the agent, stop, destroy") {
  vm_fixture f;
  auto endpoint = f.backend->boot(f.spec);
  INFO(text_of(endpoint) << "\nlog: "
                         << slurp(f.runtime() / "firecracker.log"));
  REQUIRE(endpoint);
  CHECK(endpoint->socket == f.runtime() / "v.sock");
  CHECK(endpoint->vsock_port == 1024);
  CHECK(f.backend->running(f.spec));
  CHECK(fs::exists(f.runtime() / "pid.json"));
  CHECK(fs::exists(f.runtime() / "firecracker.sock"));

  // Exactly the plan, in order, with the environment's kernel and initrd
  // and the workspace's own disk.
  CHECK(f.recorded()
        == f.expected((f.env / "vm" / "vmlinux").string(),
                      (f.env / "vm" / "initrd.img").string(),
                      (f.spec.workspace_dir / "vm" / "rootfs.ext4").string(),
                      (f.runtime() / "v.sock").string()));
  CHECK(
    slurp(f.runtime() / "firecracker.log")
      .find("args --api-sock " + (f.runtime() / "firecracker.sock").string())
    != std::string::npos);

  // What the actors do with the endpoint: exec through the vsock.
  auto link = connect_agent(*endpoint);
  REQUIRE(link);
  auto ran = (*link)->call(
    "exec", {{"command", "echo through-vsock"}, {"timeout_seconds", 10}}, 10s);
  INFO(text_of(ran));
  REQUIRE(ran);
  CHECK((*ran)["stdout"] == "through-vsock\n");

  // Found again by a fresh backend object, as another pyro process would.
  auto again = vmm::make_firecracker_backend()->endpoint(f.spec);
  REQUIRE(again);
  CHECK(again->socket == endpoint->socket);
  CHECK(again->vsock_port == 1024);
  // Booting a running VM starts nothing new.
  auto count = f.recorded().size();
  REQUIRE(f.backend->boot(f.spec));
  CHECK(f.recorded().size() == count);

  // stop asks the agent to shut down; the "VM" then exits by itself, well
  // before the 10 s grace.
  auto start = std::chrono::steady_clock::now();
  auto stopped = f.backend->stop(f.spec);
  INFO(text_of(stopped));
  REQUIRE(stopped);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(f.agent.exited());
  CHECK(f.eventually_gone());
  CHECK_FALSE(f.backend->running(f.spec));
  CHECK_FALSE(fs::exists(f.runtime() / "pid.json"));
  CHECK_FALSE(fs::exists(f.runtime() / "v.sock"));
  CHECK_FALSE(fs::exists(f.runtime() / "firecracker.sock"));
  auto gone = f.backend->endpoint(f.spec);
  REQUIRE_FALSE(gone);
  CHECK(gone.err().code == error_code::failed_precondition);
  CHECK(fs::exists(f.spec.workspace_dir / "vm" / "rootfs.ext4"));
  REQUIRE(f.backend->stop(f.spec)); // stopping a stopped VM succeeds

  REQUIRE(f.backend->destroy(f.spec));
  CHECK_FALSE(fs::exists(f.spec.workspace_dir / "vm"));
  CHECK_FALSE(fs::exists(f.runtime()));
}

TEST_CASE("firecracker backend: a guest that never answers CONNECT") {
  vm_fixture f;
  scoped_env silent{"FAKE_FC_MODE", "silent"};
  scoped_env quick{"PYRO_VM_BOOT_TIMEOUT_SECONDS", "2"};
  auto start = std::chrono::steady_clock::now();
  auto endpoint = f.backend->boot(f.spec);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(endpoint);
  INFO(endpoint.err().message);
  CHECK(endpoint.err().code == error_code::unavailable);
  CHECK(endpoint.err().message.find(
          "the Firecracker VM of workspace 'ws-test' did not boot: its agent "
          "did not answer on vsock port 1024 within 2 s")
        != std::string::npos);
  CHECK(endpoint.err().message.find("no answer to CONNECT")
        != std::string::npos);
  CHECK(endpoint.err().message.find("firecracker log (end)")
        != std::string::npos);
  CHECK(endpoint.err().hint.find("PYRO_VM_BOOT_TIMEOUT_SECONDS")
        != std::string::npos);
  CHECK(took >= 1900ms);
  CHECK(took < 6s);
  // Nothing left running, nothing left behind but the log.
  CHECK(f.eventually_gone());
  CHECK_FALSE(f.backend->running(f.spec));
  for (const char* name :
       {"pid.json", "firecracker.json", "firecracker.sock", "v.sock"})
    CHECK_FALSE(fs::exists(f.runtime() / name));
  CHECK(fs::exists(f.runtime() / "firecracker.log"));
}

TEST_CASE("firecracker backend: a request Firecracker refuses") {
  vm_fixture f;
  scoped_env refuse{"FAKE_FC_REFUSE", "PUT /vsock"};
  auto start = std::chrono::steady_clock::now();
  auto endpoint = f.backend->boot(f.spec);
  REQUIRE_FALSE(endpoint);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(endpoint.err().code == error_code::failed_precondition);
  CHECK(endpoint.err().message.find(
          "Firecracker refused PUT /vsock (HTTP 400): the test refuses PUT "
          "/vsock")
        != std::string::npos);
  auto paths = std::vector<std::string>{};
  for (const auto& r : f.recorded())
    paths.push_back(r["path"]);
  // Nothing after the refusal: no InstanceStart.
  CHECK(paths
        == std::vector<std::string>{"/machine-config", "/boot-source",
                                    "/drives/rootfs", "/vsock"});
  CHECK(f.eventually_gone());
  CHECK_FALSE(fs::exists(f.runtime() / "pid.json"));
}

TEST_CASE("firecracker backend: firecracker exits while the guest boots") {
  vm_fixture f;
  scoped_env crash{"FAKE_FC_MODE", "crash"};
  scoped_env slow{"FAKE_FC_BOOT_DELAY", "30"};
  auto start = std::chrono::steady_clock::now();
  auto endpoint = f.backend->boot(f.spec);
  REQUIRE_FALSE(endpoint);
  INFO(endpoint.err().message);
  CHECK(std::chrono::steady_clock::now() - start < 5s); // not the timeout
  CHECK(endpoint.err().code == error_code::unavailable);
  CHECK(endpoint.err().message.find("did not boot: firecracker exited")
        != std::string::npos);
  CHECK(endpoint.err().message.find("guest kernel panic") != std::string::npos);
  CHECK(endpoint.err().hint.find("pyro doctor") != std::string::npos);
  CHECK_FALSE(fs::exists(f.runtime() / "pid.json"));
}

TEST_CASE("firecracker backend: stop when the agent is gone") {
  vm_fixture f;
  scoped_env linger{"FAKE_FC_MODE", "linger"};
  REQUIRE(f.backend->boot(f.spec));
  f.agent.kill(SIGKILL); // the guest hangs: nothing answers shutdown
  auto start = std::chrono::steady_clock::now();
  REQUIRE(f.backend->stop(f.spec));
  // No 10 s wait for a VM nobody asked to power off.
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(f.eventually_gone());
  CHECK_FALSE(f.backend->running(f.spec));
}

TEST_CASE("firecracker backend: network policies it cannot give") {
  vm_fixture f;
  f.spec.network_policy = "egress";
  auto endpoint = f.backend->boot(f.spec);
  REQUIRE_FALSE(endpoint);
  CHECK(endpoint.err().code == error_code::unavailable);
  CHECK(endpoint.err().message.find("network policy 'egress'")
        != std::string::npos);
}

TEST_CASE("firecracker backend: bad PYRO_VM_BOOT_TIMEOUT_SECONDS") {
  vm_fixture f;
  scoped_env bad{"PYRO_VM_BOOT_TIMEOUT_SECONDS", "soon"};
  auto endpoint = f.backend->boot(f.spec);
  REQUIRE_FALSE(endpoint);
  CHECK(endpoint.err().code == error_code::invalid_argument);
  CHECK(endpoint.err().message.find("PYRO_VM_BOOT_TIMEOUT_SECONDS='soon'")
        != std::string::npos);
}

TEST_CASE("firecracker backend: under the jailer") {
  if (::geteuid() != 0) {
    WARN("the jailer path needs root; skipped");
    return;
  }
  vm_fixture f;
  test::temp_dir bin;
  fs::create_symlink(FAKE_JAILER, bin.path() / "jailer");
  scoped_env path{"PATH", bin.path().string() + ":/usr/bin:/bin"};
  scoped_env use_jailer{"PYRO_FIRECRACKER_JAILER", "1"};
  auto jailer_record = f.home.path() / "jailer.json";
  scoped_env record{"FAKE_JAILER_RECORD", jailer_record.string()};

  auto endpoint = f.backend->boot(f.spec);
  INFO(text_of(endpoint) << "\nlog: "
                         << slurp(f.runtime() / "firecracker.log"));
  REQUIRE(endpoint);
  auto jail = f.runtime() / "jail";
  auto root = jail / "fake_firecracker.py" / "ws-test" / "root";
  CHECK(endpoint->socket == root / "v.sock");

  auto argv = json::parse(slurp(jailer_record));
  auto cgroup = fs::exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1";
  CHECK(argv
        == json{"--id", "ws-test", "--exec-file",
                fs::canonical(FAKE_FIRECRACKER).string(), "--uid",
                std::to_string(::getuid()), "--gid", std::to_string(::getgid()),
                "--chroot-base-dir", jail.string(), "--cgroup-version", cgroup,
                "--", "--api-sock", "/firecracker.sock"});
  // Firecracker is given paths inside its jail.
  CHECK(f.recorded()
        == f.expected("/vmlinux", "/initrd.img", "/rootfs.ext4", "/v.sock"));
  // The jail's disk is the workspace's disk, not a copy of it.
  struct stat in_jail {};
  struct stat own {};
  REQUIRE(::stat((root / "rootfs.ext4").c_str(), &in_jail) == 0);
  REQUIRE(::stat((f.spec.workspace_dir / "vm" / "rootfs.ext4").c_str(), &own)
          == 0);
  CHECK(in_jail.st_ino == own.st_ino);

  auto link = connect_agent(*endpoint);
  REQUIRE(link);
  CHECK((*link)->call("hello", json::object(), 5s));
  REQUIRE(f.backend->stop(f.spec));
  CHECK(f.eventually_gone());
  CHECK_FALSE(fs::exists(jail));
}
