#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// What the `pyro-sandbox` helper needs to build one sandbox, written by the
/// backend to runtime/sandbox.json and read back by the helper (a separate
/// executable, so that namespace set-up never runs in a forked copy of a
/// multithreaded pyro process).
struct launch_spec {
  std::string workspace_id;
  std::filesystem::path lower;        ///< environment rootfs (read-only)
  /// Directory holding the overlay's upper/ and work/ (persistent)...
  std::filesystem::path layers;
  /// ...or, when set, an ext4 image holding them: its size is the
  /// workspace's disk limit (root only: it is mounted through a loop
  /// device).
  std::filesystem::path disk_image;
  /// Host directory of the agent's (and a parked sandbox's claim) socket.
  /// The launcher binds them there and hands PID 1 the descriptors: the
  /// sandbox never sees the directory, so it cannot replace what the host
  /// connects to.
  std::filesystem::path socket_dir;
  std::filesystem::path agent_binary; ///< host path, executed by descriptor
  std::filesystem::path pid_file;
  std::filesystem::path log_file;
  int vcpu_count = 1;
  int mem_mib = 1024;
  std::string network_policy = "off";
  /// User-mode networking for egress (empty when the policy is off).
  std::filesystem::path slirp_binary;
  /// Where slirp4netns listens for port-forwarding requests.
  std::filesystem::path slirp_socket;
  /// Build everything but stop short of the hostname, confinement and the
  /// agent: PID 1 waits on park.sock in the socket dir for the workspace
  /// id it is claimed for (see sandbox_backend::claim).
  bool park = false;
  /// With `park`: the process keeping the pool. A parked sandbox ends with
  /// it, so that one killed without draining its pool leaves none behind.
  int owner_pid = 0;
};

nlohmann::json to_json(const launch_spec& spec);
result<launch_spec> launch_spec_from_json(const nlohmann::json& j);

/// Socket names in `socket_dir`.
inline constexpr const char* agent_socket_name = "agent.sock";
inline constexpr const char* park_socket_name = "park.sock";

} // namespace pyro::vmm
