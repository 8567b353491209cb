#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "messages/error.hpp"
#include "vmm/host_facts.hpp"

namespace pyro::vmm {

/// Everything a backend needs to run one workspace's sandbox. Backends keep
/// no state in memory: what they start is found again through
/// `runtime_dir`, so any pyro process can reach a sandbox another started.
struct sandbox_spec {
  std::string workspace_id;
  /// PYRO_HOME/workspaces/<id>: the backend's files live below it.
  std::filesystem::path workspace_dir;
  /// The environment's root filesystem (read-only to the backend).
  std::filesystem::path rootfs;
  std::filesystem::path agent_binary;
  int vcpu_count = 1;
  int mem_mib = 1024;
  /// Room for what the sandbox writes; 0: none asked (unlimited).
  int disk_mib = 0;
  /// off, egress or egress+published-ports.
  std::string network_policy = "off";

  [[nodiscard]] std::filesystem::path runtime_dir() const {
    return workspace_dir / "runtime";
  }
};

/// How a host process reaches the agent of a running sandbox.
struct agent_endpoint {
  /// A Unix socket speaking the wire protocol.
  std::filesystem::path socket;
  /// 0: `socket` is the agent's own. Above 0: `socket` is a Firecracker
  /// hybrid vsock, and each connection first asks for this guest port.
  int vsock_port = 0;
  /// Above 0: the pid that must be listening on `socket` (checked through
  /// SO_PEERCRED before anything is sent).
  int peer_pid = 0;
};

/// What a backend can do on this host.
struct backend_capabilities {
  bool isolated = false;
  bool vm = false;
  bool resource_limits = false;
  bool network_egress = false;
};

/// One isolation technology behind the common lifecycle. Every call is
/// idempotent where that makes sense (stop of a stopped sandbox succeeds).
class backend {
public:
  virtual ~backend() = default;

  [[nodiscard]] virtual std::string_view name() const = 0;

  /// What results report: sandbox, guest_vsock, guest_serial, host_compat.
  [[nodiscard]] virtual std::string_view execution_mode() const = 0;

  [[nodiscard]] virtual backend_capabilities capabilities() const = 0;

  /// Creates the per-workspace files (overlay upper layer, disk copy, ...).
  virtual status prepare(const sandbox_spec& spec) = 0;

  /// Starts the sandbox and returns once its agent accepts connections.
  virtual result<agent_endpoint> boot(const sandbox_spec& spec) = 0;

  /// The endpoint of a running sandbox; `failed_precondition` if stopped.
  virtual result<agent_endpoint> endpoint(const sandbox_spec& spec) = 0;

  [[nodiscard]] virtual bool running(const sandbox_spec& spec) = 0;

  /// Whether what the sandbox writes is held to `spec.disk_mib`.
  [[nodiscard]] virtual bool disk_limited(const sandbox_spec& spec) const {
    (void)spec;
    return false;
  }

  /// Stops the sandbox, keeping its files (and so /workspace).
  virtual status stop(const sandbox_spec& spec) = 0;

  /// Stops the sandbox and removes every file, process and mount it had.
  virtual status destroy(const sandbox_spec& spec) = 0;

  /// Makes a guest TCP port reachable on 127.0.0.1:host_port of the host
  /// (and nowhere else); returns an id for `unpublish_port`. Only under the
  /// egress+published-ports policy, checked by the caller.
  virtual result<int> publish_port(const sandbox_spec& spec, int host_port,
                                   int guest_port);

  virtual status unpublish_port(const sandbox_spec& spec, int id);
};

/// Picks a backend: `requested` is auto, firecracker, qemu, sandbox or host
/// (empty = PYRO_BACKEND, then auto). auto tries firecracker, then qemu with
/// a KVM that runs stock guests, then sandbox, and never host. Demanding an
/// unusable backend is an error naming why, never a silent fallback; host
/// needs `allow_host_compat`.
result<std::unique_ptr<backend>> select_backend(std::string requested,
                                                bool allow_host_compat,
                                                const host_facts& facts);

/// A backend by name, without checking the host (for sandboxes that exist).
result<std::unique_ptr<backend>> backend_by_name(std::string_view name);

} // namespace pyro::vmm
