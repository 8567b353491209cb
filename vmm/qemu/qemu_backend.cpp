#include "vmm/qemu/qemu_backend.hpp"

#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "messages/wire/agent_client.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/child_process.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/guest/shell.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

fs::path vm_dir(const sandbox_spec& spec) {
  return spec.workspace_dir / "vm";
}

// The workspace's own link to the image its overlay was made over: a pull
// that rebuilds the environment replaces the cache's file, never this one.
fs::path base_image(const sandbox_spec& spec) {
  return vm_dir(spec) / "base.ext4";
}

std::chrono::milliseconds boot_timeout() {
  if (const char* v = std::getenv("PYRO_VM_BOOT_TIMEOUT_SECONDS"); v && *v)
    return std::chrono::milliseconds{
      static_cast<long>(std::atof(v) * 1000.0)};
  return 60s;
}

std::string tail_of(const fs::path& file, size_t bytes) {
  auto text = sys::read_file(file);
  if (!text || text->empty())
    return {};
  return text->size() > bytes ? text->substr(text->size() - bytes) : *text;
}

status link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove(to, ec);
  fs::create_hard_link(from, to, ec);
  if (!ec)
    return {};
  return run_shell("cp --sparse=always " + shell_quote(from) + " " + shell_quote(to),
                   10min);
}

void remove_runtime_files(const sandbox_spec& spec) {
  std::error_code ec;
  for (const char* name : {"qemu-agent.sock", "qmp.sock"})
    fs::remove(spec.runtime_dir() / name, ec);
  fs::remove(socket_path(spec), ec);
  fs::remove(pid_file(spec), ec);
}

// The boot failed: end whatever runs and say what the guest printed.
error boot_failed(const sandbox_spec& spec, const process_identity& supervisor,
                  const std::string& why) {
  static_cast<void>(terminate(supervisor, 2s));
  remove_runtime_files(spec);
  std::string detail;
  if (auto console = tail_of(spec.runtime_dir() / "console.log", 1200);
      !console.empty())
    detail += "; guest console: " + console;
  if (auto log = tail_of(spec.runtime_dir() / "vm.log", 600); !log.empty())
    detail += "; supervisor: " + log;
  return make_error(error_code::unavailable,
                    "the VM of workspace '" + spec.workspace_id
                      + "' did not become ready: " + why + detail,
                    "`pyro doctor` shows how this host runs VMs; "
                    "PYRO_VM_BOOT_TIMEOUT_SECONDS sets the boot timeout");
}

} // namespace

fs::path vm_disk_path(const sandbox_spec& spec) {
  return vm_dir(spec) / "disk.qcow2";
}

status qemu_backend::prepare(const sandbox_spec& spec) {
  auto images = vm_images_of(spec.rootfs.parent_path());
  if (!vm_images_complete(spec.rootfs.parent_path()))
    return make_error(error_code::failed_precondition,
                      "the environment at " + spec.rootfs.parent_path().string()
                        + " has no VM images",
                      "run `pyro env pull NAME` on a host with QEMU installed "
                      "(or with PYRO_VM_IMAGES=1)");
  std::error_code ec;
  for (const auto& dir : {vm_dir(spec), spec.runtime_dir() / "sock"}) {
    fs::create_directories(dir, ec);
    if (ec)
      return make_error(error_code::internal,
                        "cannot create " + dir.string() + ": " + ec.message());
  }
  fs::permissions(spec.runtime_dir(), fs::perms::owner_all, ec);
  if (fs::exists(vm_disk_path(spec), ec))
    return {};
  if (auto linked = link_or_copy(images.disk(), base_image(spec)); !linked)
    return linked;
  return make_overlay(base_image(spec), "raw", vm_disk_path(spec));
}

result<agent_endpoint> qemu_backend::boot(const sandbox_spec& spec) {
  if (running(spec))
    return agent_endpoint{socket_path(spec)};
  if (spec.network_policy != "off")
    return make_error(error_code::unavailable,
                      "the qemu backend offers network policy 'off' only",
                      "use the sandbox backend for egress");
  if (auto prepared = prepare(spec); !prepared)
    return prepared.err();
  auto helper = vm_helper_binary();
  if (!helper)
    return helper.err();
  auto images = vm_images_of(spec.rootfs.parent_path());
  qemu_settings s;
  s.binary = find_executable("qemu-system-x86_64");
  if (s.binary.empty())
    return make_error(error_code::unavailable,
                      "qemu-system-x86_64 is not installed",
                      "install Debian's qemu-system-x86 package");
  s.accel = accel_;
  s.vcpu_count = spec.vcpu_count;
  s.mem_mib = spec.mem_mib;
  s.kernel = images.kernel();
  s.initrd = images.initrd();
  s.disk = vm_disk_path(spec);
  s.hostname = spec.workspace_id;
  s.tsc_khz = host_tsc_khz();
  s.agent_socket = spec.runtime_dir() / "qemu-agent.sock";
  s.qmp_socket = spec.runtime_dir() / "qmp.sock";
  s.console_log = spec.runtime_dir() / "console.log";
  remove_runtime_files(spec);
  std::error_code ec;
  fs::remove(s.console_log, ec);
  fs::remove(spec.runtime_dir() / "vm.log", ec);

  vm_launch launch{qemu_argv(s), s.agent_socket, socket_path(spec),
                   pid_file(spec)};
  auto launch_file = spec.runtime_dir() / "vm-launch.json";
  if (auto w = sys::write_file_atomic(launch_file, to_json(launch).dump(2));
      !w)
    return w.err();
  auto deadline = clock_type::now() + boot_timeout();
  auto pid = spawn_detached({helper->string(), "run", launch_file.string()},
                            (spec.runtime_dir() / "vm.log").string());
  if (!pid)
    return pid.err();
  auto supervisor = identity_of(*pid);
  // The relay listens once QEMU runs; the agent answers once the guest has
  // booted, which under emulation takes seconds.
  for (;;) {
    if (wait_for_socket(socket_path(spec).string(), 50ms))
      break;
    if (!alive(supervisor))
      return boot_failed(spec, supervisor, "QEMU exited");
    if (clock_type::now() >= deadline)
      return boot_failed(spec, supervisor, "QEMU did not start in time");
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  wire::agent_client client{socket_path(spec).string()};
  auto hello = client.call("hello", nlohmann::json::object(), nullptr, nullptr,
                           std::max(left, 1ms));
  if (!hello)
    return boot_failed(spec, supervisor,
                       alive(supervisor) ? "no answer from the agent within "
                                             + std::to_string(
                                               boot_timeout().count())
                                             + " ms"
                                         : "the guest powered off");
  return agent_endpoint{socket_path(spec)};
}

status qemu_backend::stop(const sandbox_spec& spec) {
  auto supervisor = read_identity(spec);
  if (alive(supervisor)) {
    // A clean power-off: the agent syncs, remounts / read-only and powers
    // down, QEMU exits and so does its supervisor.
    {
      wire::agent_client client{socket_path(spec).string(), 2s};
      static_cast<void>(client.call("shutdown", nlohmann::json::object(),
                                    nullptr, nullptr, 5s));
    }
    auto deadline = clock_type::now() + 15s;
    while (alive(supervisor) && clock_type::now() < deadline)
      std::this_thread::sleep_for(10ms);
  }
  if (auto stopped = stop_agent(spec); !stopped)
    return stopped;
  remove_runtime_files(spec);
  return {};
}

status qemu_backend::destroy(const sandbox_spec& spec) {
  if (auto stopped = stop(spec); !stopped)
    return stopped;
  std::error_code ec;
  fs::remove_all(vm_dir(spec), ec);
  fs::remove_all(spec.runtime_dir(), ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot remove the VM files of '" + spec.workspace_id
                        + "': " + ec.message());
  return {};
}

} // namespace pyro::vmm
