#include "vmm/qemu/qemu_backend.hpp"

#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "messages/sys/clock.hpp"
#include "messages/wire/agent_client.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/guest/shell.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"
#include "vmm/qemu/guest_process.hpp"
#include "vmm/qemu/kvm_probe.hpp"
#include "vmm/qemu/qmp_client.hpp"
#include "vmm/qemu/warm_snapshot.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

fs::path vm_dir(const sandbox_spec& spec) {
  return spec.workspace_dir / "vm";
}

guest_runtime runtime_of(const sandbox_spec& spec) {
  return {spec.runtime_dir(), socket_path(spec), pid_file(spec)};
}

vm_images images_of(const sandbox_spec& spec) {
  return vm_images_of(spec.rootfs.parent_path());
}

status link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove(to, ec);
  fs::create_hard_link(from, to, ec);
  if (!ec)
    return {};
  return run_shell(
    "cp --sparse=always " + shell_quote(from) + " " + shell_quote(to), 10min);
}

// The workspace's own disk chain, every link named relatively inside vm/:
// disk.qcow2 over base.ext4 (cold), or over warm.qcow2 over base.ext4
// (a copy of a warm snapshot's disk). A pull that rebuilds the environment
// replaces the cache's files, never these.
status make_disk(const sandbox_spec& spec, const warm_snapshot* warm) {
  auto dir = vm_dir(spec);
  std::error_code ec;
  if (warm == nullptr) {
    if (auto linked = link_or_copy(images_of(spec).disk(), dir / "base.ext4");
        !linked)
      return linked;
    return make_overlay("base.ext4", "raw", vm_disk_path(spec));
  }
  if (auto linked = link_or_copy(warm->base(), dir / "base.ext4"); !linked)
    return linked;
  fs::copy_file(warm->disk(), dir / "warm.qcow2",
                fs::copy_options::overwrite_existing, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot copy the warm disk: " + ec.message());
  return make_overlay("warm.qcow2", "qcow2", vm_disk_path(spec));
}

void remove_disk(const sandbox_spec& spec) {
  std::error_code ec;
  for (const char* name : {"disk.qcow2", "warm.qcow2", "base.ext4"})
    fs::remove(vm_dir(spec) / name, ec);
}

// Why a warm start was skipped, for whoever wonders why a create was slow
// (never on stdout or stderr: they may carry --json or MCP traffic).
void note(const sandbox_spec& spec, const std::string& line) {
  std::ofstream{spec.runtime_dir() / "boot.log", std::ios::app} << line << "\n";
}

// The boot failed: end whatever runs and say what the guest printed.
error boot_failed(const sandbox_spec& spec, const process_identity& supervisor,
                  const error& why) {
  static_cast<void>(terminate(supervisor, 2s));
  auto runtime = runtime_of(spec);
  runtime.clear();
  return make_error(error_code::unavailable,
                    "the VM of workspace '" + spec.workspace_id
                      + "' did not become ready: " + why.message
                      + runtime.log_tail(),
                    "`pyro doctor` shows how this host runs VMs; "
                    "PYRO_VM_BOOT_TIMEOUT_SECONDS sets the boot timeout");
}

// A restored guest waits paused until told to go on.
status resume_restored(const guest_runtime& runtime,
                       clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  auto qmp = qmp_client::connect(runtime.qmp_socket(), std::max(left, 1ms));
  if (!qmp)
    return qmp.err();
  for (;;) {
    auto state = qmp->execute("query-status");
    if (!state)
      return state.err();
    if (state->value("status", std::string{}) != "inmigrate")
      break;
    if (clock_type::now() > deadline)
      return make_error(error_code::deadline_exceeded,
                        "the memory snapshot did not load in time");
    std::this_thread::sleep_for(5ms);
  }
  if (auto resumed = qmp->execute("cont"); !resumed)
    return resumed.err();
  return {};
}

// What a clone of the snapshot must not share with its siblings.
status personalise(const sandbox_spec& spec) {
  std::random_device rd;
  std::string entropy;
  char hex[3];
  for (int i = 0; i < 64; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", rd() & 0xff);
    entropy += hex;
  }
  auto now_ns = static_cast<int64_t>(sys::unix_now() * 1e9);
  wire::agent_client client{socket_path(spec).string()};
  auto done = client.call("configure",
                          json{{"hostname", spec.workspace_id},
                               {"unix_time_ns", now_ns},
                               {"entropy_hex", entropy}},
                          nullptr, nullptr, 10s);
  if (!done)
    return done.err();
  return {};
}

} // namespace

fs::path vm_disk_path(const sandbox_spec& spec) {
  return vm_dir(spec) / "disk.qcow2";
}

status qemu_backend::prepare(const sandbox_spec& spec) {
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
  return {};
}

qemu_settings qemu_backend::settings_for(const sandbox_spec& spec) const {
  auto images = images_of(spec);
  qemu_settings s;
  s.binary = find_executable("qemu-system-x86_64");
  s.accel = !accel_.empty()                                         ? accel_
            : kvm_runs_stock_guests(cached_host_facts(), images).ok ? "kvm"
                                                                    : "tcg";
  s.vcpu_count = spec.vcpu_count;
  s.mem_mib = spec.mem_mib;
  s.kernel = images.kernel();
  s.initrd = images.initrd();
  s.disk = vm_disk_path(spec);
  s.hostname = spec.workspace_id;
  s.tsc_khz = host_tsc_khz();
  runtime_of(spec).fill(s);
  return s;
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
  auto s = settings_for(spec);
  if (s.binary.empty())
    return make_error(error_code::unavailable,
                      "qemu-system-x86_64 is not installed",
                      "install Debian's qemu-system-x86 package");
  // A first boot may start from the warm snapshot; a disk that has been
  // used since can only boot cold.
  std::error_code ec;
  if (!fs::exists(vm_disk_path(spec), ec)) {
    if (warm_start_enabled()) {
      auto warm = ensure_warm_snapshot(images_of(spec), s);
      if (warm) {
        if (auto made = make_disk(spec, &*warm); made) {
          s.incoming = warm->memory();
          if (auto restored = boot_guest(spec, s); restored)
            return restored;
          else
            note(spec,
                 "warm start failed, booting cold: " + restored.err().message);
        }
        remove_disk(spec);
        s.incoming.clear();
      } else {
        note(spec, "no warm snapshot, booting cold: " + warm.err().message);
      }
    }
    if (auto made = make_disk(spec, nullptr); !made)
      return made.err();
  }
  return boot_guest(spec, s);
}

result<agent_endpoint> qemu_backend::boot_guest(const sandbox_spec& spec,
                                                const qemu_settings& s) {
  auto runtime = runtime_of(spec);
  auto deadline = clock_type::now() + vm_boot_timeout();
  auto supervisor = launch_guest(s, runtime);
  if (!supervisor)
    return supervisor.err();
  if (!s.incoming.empty())
    if (auto resumed = resume_restored(runtime, deadline); !resumed)
      return boot_failed(spec, *supervisor, resumed.err());
  if (auto ready = wait_for_agent(*supervisor, runtime, deadline); !ready)
    return boot_failed(spec, *supervisor, ready.err());
  if (!s.incoming.empty())
    if (auto own = personalise(spec); !own)
      return boot_failed(spec, *supervisor, own.err());
  return agent_endpoint{socket_path(spec)};
}

status qemu_backend::stop(const sandbox_spec& spec) {
  auto supervisor = read_identity(spec);
  if (alive(supervisor)) {
    // A clean power-off: the agent syncs, remounts / read-only and powers
    // down, QEMU exits and so does its supervisor.
    {
      wire::agent_client client{socket_path(spec).string(), 2s};
      static_cast<void>(
        client.call("shutdown", json::object(), nullptr, nullptr, 5s));
    }
    auto deadline = clock_type::now() + 15s;
    while (alive(supervisor) && clock_type::now() < deadline)
      std::this_thread::sleep_for(10ms);
  }
  if (auto stopped = stop_agent(spec); !stopped)
    return stopped;
  runtime_of(spec).clear();
  return {};
}

status qemu_backend::destroy(const sandbox_spec& spec) {
  if (auto stopped = stop(spec); !stopped)
    return stopped;
  return remove_backend_files(spec, vm_dir(spec), "VM");
}

} // namespace pyro::vmm
