#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pyro::vmm {

/// A yes/no fact about the host and, when it is no, why.
struct fact {
  bool ok = false;
  std::string reason;
};

/// What /dev/kvm is and whether it can run an unmodified guest kernel.
struct kvm_facts {
  bool exists = false;
  bool readable = false;
  bool writable = false;
  /// The CPU advertises vmx or svm to this kernel.
  bool hardware_virtualization = false;
  /// Whether a stock Debian kernel can boot on it, and the evidence.
  fact stock_guest;
};

/// Facts the backends are chosen by, measured on this host now.
struct host_facts {
  std::string platform;
  std::string kernel_release;
  bool is_root = false;
  kvm_facts kvm;
  fact namespaces;
  fact overlayfs;
  /// cpu and memory controllers writable (v2 or v1).
  fact cgroups;
  fact seccomp;
  /// Whether sandbox workspaces can be held to --disk-mib.
  fact disk_limits;
  std::string qemu_binary;
  std::string firecracker_binary;
  bool tun = false;
  bool ip_forward = false;
};

/// Probes the host: cheap checks only (files, a forked unshare), no VM boot.
host_facts probe_host();

/// probe_host() once per process: what backend selection on every create
/// uses, since the host does not change under a running pyro.
const host_facts& cached_host_facts();

/// Searches PATH for an executable; empty when absent.
std::string find_executable(const std::string& name);

/// One isolation backend as this host and this build can offer it.
struct backend_availability {
  std::string name;
  std::string execution_mode;
  bool available = false;
  std::string reason;
};

/// Every backend, in `auto` preference order (host last, never automatic).
std::vector<backend_availability> backend_report(const host_facts& facts);

nlohmann::json to_json(const host_facts& facts);
nlohmann::json to_json(const backend_availability& backend);

} // namespace pyro::vmm
