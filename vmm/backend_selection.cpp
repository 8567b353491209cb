#include <cstdlib>

#include "vmm/agent_binary.hpp"
#include "vmm/backend.hpp"
#include "vmm/firecracker/firecracker_backend.hpp"
#include "vmm/host/host_backend.hpp"
#include "vmm/qemu/qemu_backend.hpp"
#include "vmm/sandbox/sandbox_backend.hpp"

namespace pyro::vmm {

namespace {

const backend_availability* find(const std::vector<backend_availability>& all,
                                 std::string_view name) {
  for (const auto& b : all)
    if (b.name == name)
      return &b;
  return nullptr;
}

} // namespace

result<int> backend::publish_port(const sandbox_spec&, int, int) {
  return make_error(error_code::unavailable,
                    "the " + std::string{name()}
                      + " backend cannot publish ports",
                    "use the sandbox backend");
}

status backend::unpublish_port(const sandbox_spec&, int) {
  return {};
}

result<std::unique_ptr<backend>> backend_by_name(std::string_view name) {
  if (name == "sandbox")
    return std::unique_ptr<backend>{std::make_unique<sandbox_backend>()};
  if (name == "host")
    return std::unique_ptr<backend>{std::make_unique<host_backend>()};
  if (name == "qemu") {
    // Empty: decided per boot by the KVM probe (vmm/qemu/kvm_probe.hpp).
    std::string accel;
    if (const char* forced = std::getenv("PYRO_QEMU_ACCEL"); forced && *forced)
      accel = forced;
    return std::unique_ptr<backend>{std::make_unique<qemu_backend>(accel)};
  }
  if (name == "firecracker")
    return make_firecracker_backend();
  return make_error(error_code::invalid_argument,
                    "unknown backend '" + std::string{name} + "'",
                    "choose auto, firecracker, qemu, sandbox or host");
}

result<std::unique_ptr<backend>> select_backend(std::string requested,
                                                bool allow_host_compat,
                                                const host_facts& facts) {
  if (requested.empty()) {
    const char* env = std::getenv("PYRO_BACKEND");
    requested = env != nullptr && *env != '\0' ? env : "auto";
  }
  auto report = backend_report(facts);
  if (requested == "auto") {
    std::string reasons;
    for (const char* name : {"firecracker", "qemu", "sandbox"}) {
      const auto* b = find(report, name);
      // Emulated VMs boot in seconds: never chosen without being asked.
      bool usable
        = b->available
          && (std::string_view{name} != "qemu" || facts.kvm.stock_guest.ok);
      if (usable)
        return backend_by_name(name);
      reasons
        += std::string{reasons.empty() ? "" : "; "} + name + ": " + b->reason;
    }
    return make_error(error_code::unavailable,
                      "no isolating backend works on this host (" + reasons
                        + ")",
                      "`pyro doctor` explains each; to run without "
                      "isolation pass --backend host --allow-host-compat");
  }
  if (requested == "host" && !allow_host_compat)
    return make_error(error_code::failed_precondition,
                      "the host backend runs commands without isolation",
                      "pass --allow-host-compat to accept that");
  const auto* b = find(report, requested);
  if (b == nullptr)
    return backend_by_name(requested); // names the unknown backend
  if (!b->available)
    return make_error(error_code::unavailable,
                      "the " + requested
                        + " backend is not usable here: " + b->reason,
                      "`pyro doctor` lists the backends this host can use");
  return backend_by_name(requested);
}

} // namespace pyro::vmm
