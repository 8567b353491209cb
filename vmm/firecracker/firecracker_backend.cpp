#include "vmm/firecracker/firecracker_backend.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/wire/agent_client.hpp"
#include "vmm/agent_process.hpp"
#include "vmm/child_process.hpp"
#include "vmm/firecracker/disk_copy.hpp"
#include "vmm/firecracker/jailer.hpp"
#include "vmm/firecracker/launch.hpp"
#include "vmm/host_facts.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
namespace fc = firecracker;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

fs::path vm_dir(const sandbox_spec& spec) {
  return spec.workspace_dir / "vm";
}

fs::path disk_path(const sandbox_spec& spec) {
  return vm_dir(spec) / "rootfs.ext4";
}

// The environment's VM files: vm/ beside its rootfs.
fs::path image_dir(const sandbox_spec& spec) {
  return spec.rootfs.parent_path() / "vm";
}

fs::path log_path(const sandbox_spec& spec) {
  return spec.runtime_dir() / "firecracker.log";
}

fs::path sockets_file(const sandbox_spec& spec) {
  return spec.runtime_dir() / "firecracker.json";
}

fc::vm_sockets read_sockets(const sandbox_spec& spec) {
  auto text = sys::read_file(sockets_file(spec));
  if (!text)
    return {};
  return fc::sockets_from_json(nlohmann::json::parse(*text, nullptr, false));
}

std::chrono::milliseconds left_until(clock_type::time_point deadline) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - clock_type::now()),
                  0ms);
}

result<std::chrono::seconds> boot_timeout() {
  const char* env = std::getenv("PYRO_VM_BOOT_TIMEOUT_SECONDS");
  if (env == nullptr || *env == '\0')
    return std::chrono::seconds{60};
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(env, &end, 10);
  if (errno != 0 || *end != '\0' || value < 1 || value > 3600)
    return make_error(error_code::invalid_argument,
                      std::string{"PYRO_VM_BOOT_TIMEOUT_SECONDS='"} + env
                        + "' is not a number of seconds in 1..3600");
  return std::chrono::seconds{value};
}

result<fs::path> firecracker_binary() {
  const char* env = std::getenv("PYRO_FIRECRACKER_BINARY");
  if (env != nullptr && *env != '\0') {
    if (::access(env, X_OK) != 0)
      return make_error(error_code::failed_precondition,
                        std::string{"PYRO_FIRECRACKER_BINARY="} + env
                          + " is not an executable file");
    return fs::path{env};
  }
  auto found = find_executable("firecracker");
  if (found.empty())
    return make_error(error_code::unavailable, "no firecracker binary on PATH",
                      "install Firecracker, set PYRO_FIRECRACKER_BINARY, or "
                      "choose another backend");
  return fs::path{found};
}

// The end of Firecracker's log (which holds the guest's serial console), to
// quote in a boot error.
std::string log_tail(const sandbox_spec& spec) {
  auto text = sys::read_file(log_path(spec));
  if (!text || text->empty())
    return {};
  constexpr size_t keep = 2000;
  if (text->size() > keep) {
    auto cut = text->find('\n', text->size() - keep);
    *text
      = text->substr(cut == std::string::npos ? text->size() - keep : cut + 1);
  }
  return "; firecracker log (end): " + *text;
}

status check_socket_path(const fs::path& p) {
  if (p.string().size() < sizeof(sockaddr_un{}.sun_path))
    return {};
  return make_error(error_code::invalid_argument,
                    "the VM socket path " + p.string()
                      + " is longer than a Unix socket allows (107 bytes)",
                    "use a shorter PYRO_HOME");
}

bool connectable(const fs::path& p) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto s = p.string();
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  bool ok
    = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

bool wait_gone(const process_identity& id, std::chrono::milliseconds grace) {
  auto deadline = clock_type::now() + grace;
  while (alive(id) && clock_type::now() < deadline)
    std::this_thread::sleep_for(10ms);
  return !alive(id);
}

// Everything a VM leaves in the runtime dir except its log, which is what
// explains a failed boot.
void remove_runtime_files(const sandbox_spec& spec) {
  auto sockets = read_sockets(spec);
  std::error_code ec;
  for (const auto& p : {sockets.api, sockets.vsock})
    if (!p.empty())
      fs::remove(p, ec);
  if (!sockets.jail.empty())
    fs::remove_all(sockets.jail, ec);
  fs::remove(sockets_file(spec), ec);
  fs::remove(pid_file(spec), ec);
}

result<fc::guest_image> guest_image_of(const sandbox_spec& spec) {
  fc::guest_image image{image_dir(spec) / "vmlinux",
                        image_dir(spec) / "initrd.img", disk_path(spec)};
  if (!fs::exists(image.kernel))
    return make_error(error_code::failed_precondition,
                      "the environment has no VM kernel at "
                        + image.kernel.string(),
                      "pull or build the environment again with VM images");
  if (!fs::exists(image.initrd))
    image.initrd.clear();
  return image;
}

result<fc::launch> plan_launch(const sandbox_spec& spec, const fs::path& binary,
                               const fc::guest_image& image) {
  auto jailer = fc::find_jailer();
  if (!jailer)
    return fc::direct_launch(binary, spec.runtime_dir(), image);
  // The jailer mknods, chowns and pivots: without root it can only fail,
  // and running without it silently would drop isolation nobody waived.
  if (::geteuid() != 0)
    return make_error(error_code::failed_precondition,
                      "Firecracker's jailer (" + jailer->string()
                        + ") needs root, and pyro runs as uid "
                        + std::to_string(::geteuid()),
                      "run pyro as root, or set PYRO_FIRECRACKER_JAILER=0 "
                      "to run Firecracker without the jailer");
  return fc::jailed_launch(*jailer, binary, spec.workspace_id,
                           spec.runtime_dir(), image);
}

} // namespace

backend_capabilities firecracker_backend::capabilities() const {
  return {true, true, true, false};
}

status firecracker_backend::prepare(const sandbox_spec& spec) {
  std::error_code ec;
  for (const auto& dir : {vm_dir(spec), spec.runtime_dir()}) {
    fs::create_directories(dir, ec);
    if (ec)
      return make_error(error_code::internal,
                        "cannot create " + dir.string() + ": " + ec.message());
  }
  fs::permissions(spec.runtime_dir(), fs::perms::owner_all, ec);
  if (fs::exists(disk_path(spec)))
    return {}; // the workspace's disk: never copied over again
  auto source = image_dir(spec) / "rootfs.ext4";
  auto copied = fc::copy_disk_image(source, disk_path(spec));
  if (!copied && copied.err().code == error_code::not_found)
    return make_error(error_code::failed_precondition,
                      "the environment has no VM disk image at "
                        + source.string(),
                      "pull or build the environment again with VM images");
  if (!copied)
    return copied.err();
  return {};
}

result<agent_endpoint> firecracker_backend::boot(const sandbox_spec& spec) {
  if (running(spec))
    return endpoint(spec);
  if (spec.network_policy != "off")
    return make_error(error_code::unavailable,
                      "the firecracker backend cannot give a guest network "
                      "policy '"
                        + spec.network_policy + "' yet (no TAP set-up)",
                      "use --network-policy off, or the sandbox backend");
  auto timeout = boot_timeout();
  if (!timeout)
    return timeout.err();
  auto deadline = clock_type::now() + *timeout;
  if (auto prepared = prepare(spec); !prepared)
    return prepared.err();
  auto binary = firecracker_binary();
  if (!binary)
    return binary.err();
  auto image = guest_image_of(spec);
  if (!image)
    return image.err();
  remove_runtime_files(spec); // of a VM that died without a stop
  std::error_code ec;
  fs::rename(log_path(spec), log_path(spec).string() + ".1", ec);
  auto launch = plan_launch(spec, *binary, *image);
  if (!launch) {
    fs::remove_all(spec.runtime_dir() / "jail", ec); // half staged
    return launch.err();
  }
  for (const auto& p : {launch->sockets.api, launch->sockets.vsock})
    if (auto fits = check_socket_path(p); !fits)
      return fits.err();
  launch->vm.vcpu_count = spec.vcpu_count;
  launch->vm.mem_mib = spec.mem_mib;
  launch->vm.boot_args = fc::kernel_boot_args(spec.workspace_id);
  auto plan = fc::boot_plan(launch->vm);
  if (!plan)
    return plan.err();
  if (auto saved = sys::write_file_atomic(
        sockets_file(spec), fc::to_json(launch->sockets).dump(2), 0600);
      !saved)
    return saved.err();
  auto pid = spawn_detached(launch->argv, log_path(spec).string());
  if (!pid)
    return pid.err();
  auto id = identity_of(*pid);
  // Every failure from here on leaves nothing behind but the log.
  auto fail = [&](error err) {
    static_cast<void>(terminate(id, 1s));
    remove_runtime_files(spec);
    err.message = "the Firecracker VM of workspace '" + spec.workspace_id
                  + "' did not boot: " + err.message + log_tail(spec);
    if (err.hint.empty())
      err.hint = "runtime/firecracker.log in the workspace dir has "
                 "Firecracker's output and the guest console";
    return err;
  };
  auto too_slow = [&](const std::string& what) {
    return make_error(error_code::unavailable,
                      what + " within " + std::to_string(timeout->count())
                        + " s",
                      "raise PYRO_VM_BOOT_TIMEOUT_SECONDS on a slow host; "
                      "the guest console is in runtime/firecracker.log");
  };
  if (auto saved = sys::write_file_atomic(
        pid_file(spec), process_identity_of(*pid).dump(), 0600);
      !saved)
    return fail(saved.err());
  auto exited = [&] {
    return make_error(error_code::unavailable, "firecracker exited",
                      "the log says why; `pyro doctor` tells whether KVM "
                      "can run guests here");
  };
  while (!connectable(launch->sockets.api)) {
    if (!alive(id))
      return fail(exited());
    if (clock_type::now() >= deadline)
      return fail(too_slow("its API socket did not appear"));
    std::this_thread::sleep_for(5ms);
  }
  fc::api_client api{launch->sockets.api, std::max(left_until(deadline), 1ms)};
  for (const auto& request : *plan)
    if (auto done = api.call(request); !done)
      return fail(done.err());
  std::string last = "no attempt";
  while (clock_type::now() < deadline) {
    if (!alive(id))
      return fail(exited());
    auto attempt = std::min(std::max(left_until(deadline), 1ms),
                            std::chrono::milliseconds{2s});
    wire::agent_client agent{launch->sockets.vsock.string(), attempt,
                             fc::agent_vsock_port};
    auto hello = agent.call("hello", nlohmann::json::object(), nullptr, nullptr,
                            attempt);
    if (hello)
      return agent_endpoint{launch->sockets.vsock, fc::agent_vsock_port};
    last = hello.err().message;
    std::this_thread::sleep_for(
      std::min(left_until(deadline), std::chrono::milliseconds{50}));
  }
  auto late = too_slow("its agent did not answer on vsock port "
                       + std::to_string(fc::agent_vsock_port));
  late.message += " (last attempt: " + last + ")";
  return fail(std::move(late));
}

result<agent_endpoint> firecracker_backend::endpoint(const sandbox_spec& spec) {
  if (!running(spec))
    return not_running_error(spec);
  auto sockets = read_sockets(spec);
  if (sockets.vsock.empty())
    return make_error(error_code::internal,
                      "workspace '" + spec.workspace_id + "' runs, but "
                        + sockets_file(spec).string()
                        + " does not name its vsock socket",
                      "stop and start the workspace");
  return agent_endpoint{sockets.vsock, fc::agent_vsock_port};
}

bool firecracker_backend::running(const sandbox_spec& spec) {
  return alive(read_identity(spec));
}

status firecracker_backend::stop(const sandbox_spec& spec) {
  auto id = read_identity(spec);
  if (alive(id)) {
    auto sockets = read_sockets(spec);
    // The agent syncs the guest's disks before it answers and powers off
    // after: a VM that then exits by itself lost nothing.
    bool asked = false;
    if (!sockets.vsock.empty()) {
      wire::agent_client agent{sockets.vsock.string(), 2s,
                               fc::agent_vsock_port};
      asked = static_cast<bool>(
        agent.call("shutdown", nlohmann::json::object(), nullptr, nullptr, 5s));
    }
    if (!asked || !wait_gone(id, 10s))
      if (auto ended = terminate(id, 2s); !ended)
        return ended;
  }
  remove_runtime_files(spec);
  return {};
}

status firecracker_backend::destroy(const sandbox_spec& spec) {
  if (auto stopped = stop(spec); !stopped)
    return stopped;
  return remove_backend_files(spec, vm_dir(spec), "VM");
}

std::unique_ptr<backend> make_firecracker_backend() {
  return std::make_unique<firecracker_backend>();
}

} // namespace pyro::vmm
