#include "vmm/qemu/guest_process.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "messages/wire/agent_client.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/child_process.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

std::string tail_of(const fs::path& file, size_t bytes) {
  auto text = sys::read_file(file);
  if (!text || text->empty())
    return {};
  return text->size() > bytes ? text->substr(text->size() - bytes) : *text;
}

} // namespace

void guest_runtime::fill(qemu_settings& s) const {
  s.agent_socket = dir / "qemu-agent.sock";
  s.qmp_socket = qmp_socket();
  s.console_log = dir / "console.log";
}

void guest_runtime::clear() const {
  std::error_code ec;
  for (const auto& p :
       {dir / "qemu-agent.sock", qmp_socket(), relay_socket, pid_file})
    fs::remove(p, ec);
}

std::string guest_runtime::log_tail() const {
  std::string out;
  if (auto console = tail_of(dir / "console.log", 1200); !console.empty())
    out += "; guest console: " + console;
  if (auto log = tail_of(dir / "vm.log", 600); !log.empty())
    out += "; supervisor: " + log;
  return out;
}

std::chrono::milliseconds vm_boot_timeout() {
  if (const char* v = std::getenv("PYRO_VM_BOOT_TIMEOUT_SECONDS"); v && *v)
    return std::chrono::milliseconds{static_cast<long>(std::atof(v) * 1000.0)};
  return 60s;
}

result<process_identity> launch_guest(const qemu_settings& settings,
                                      const guest_runtime& runtime) {
  auto helper = vm_helper_binary();
  if (!helper)
    return helper.err();
  runtime.clear();
  std::error_code ec;
  fs::remove(runtime.dir / "console.log", ec);
  fs::remove(runtime.dir / "vm.log", ec);
  vm_launch launch{qemu_argv(settings), settings.agent_socket,
                   runtime.relay_socket, runtime.pid_file};
  auto launch_file = runtime.dir / "vm-launch.json";
  if (auto w = sys::write_file_atomic(launch_file, to_json(launch).dump(2)); !w)
    return w.err();
  auto pid = spawn_detached({helper->string(), "run", launch_file.string()},
                            (runtime.dir / "vm.log").string());
  if (!pid)
    return pid.err();
  return identity_of(*pid);
}

status wait_for_agent(const process_identity& supervisor,
                      const guest_runtime& runtime,
                      clock_type::time_point deadline) {
  // The relay listens once QEMU runs; the agent answers once the guest has
  // booted, which under emulation takes seconds.
  for (;;) {
    if (wait_for_socket(runtime.relay_socket.string(), 50ms))
      break;
    if (!alive(supervisor))
      return make_error(error_code::unavailable, "QEMU exited");
    if (clock_type::now() >= deadline)
      return make_error(error_code::deadline_exceeded,
                        "QEMU did not start in time");
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  wire::agent_client client{runtime.relay_socket.string()};
  auto hello = client.call("hello", nlohmann::json::object(), nullptr, nullptr,
                           std::max(left, 1ms));
  if (hello)
    return {};
  if (!alive(supervisor))
    return make_error(error_code::unavailable, "the guest powered off");
  return make_error(error_code::deadline_exceeded,
                    "no answer from the agent within the boot timeout of "
                      + std::to_string(vm_boot_timeout().count()) + " ms");
}

} // namespace pyro::vmm
