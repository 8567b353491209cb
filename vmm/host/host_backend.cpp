#include "vmm/host/host_backend.hpp"

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "vmm/agent_process.hpp"
#include "vmm/child_process.hpp"
#include "vmm/sandbox/cgroups.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path guest_root(const sandbox_spec& spec) {
  return spec.workspace_dir / "host" / "root";
}

} // namespace

status host_backend::prepare(const sandbox_spec& spec) {
  std::error_code ec;
  for (const auto& dir :
       {guest_root(spec) / "workspace", guest_root(spec) / "run",
        guest_root(spec) / "tmp", spec.runtime_dir() / "sock"}) {
    fs::create_directories(dir, ec);
    if (ec)
      return make_error(error_code::internal,
                        "cannot create " + dir.string() + ": " + ec.message());
  }
  return {};
}

result<agent_endpoint> host_backend::boot(const sandbox_spec& spec) {
  if (running(spec))
    return endpoint(spec);
  if (auto prepared = prepare(spec); !prepared)
    return prepared.err();
  std::error_code ec;
  fs::remove(socket_path(spec), ec);
  std::vector<std::string> argv{spec.agent_binary.string(), "--listen",
                                "unix:" + socket_path(spec).string(),
                                "--root", guest_root(spec).string()};
  // The agent and everything it starts live in the workspace's cgroup, so
  // that stop and delete leave nothing behind (root only: elsewhere only
  // process groups bound what a command leaves).
  if (auto cgroup = command_cgroup(spec.workspace_id); !cgroup.empty()) {
    argv.emplace_back("--cgroup");
    argv.push_back(cgroup);
  }
  auto pid
    = spawn_detached(argv, (spec.runtime_dir() / "agent.log").string());
  if (!pid)
    return pid.err();
  nlohmann::json record = process_identity_of(*pid);
  if (auto written = sys::write_file_atomic(pid_file(spec), record.dump());
      !written) {
    // Best effort: the boot error is what the caller needs to see.
    static_cast<void>(terminate(identity_of(*pid), 1s));
    return written.err();
  }
  if (auto ready = wait_for_socket(socket_path(spec).string(), 10s); !ready) {
    // Best effort: the boot error is what the caller needs to see.
    static_cast<void>(terminate(identity_of(*pid), 1s));
    auto log = sys::read_file(spec.runtime_dir() / "agent.log");
    return make_error(error_code::unavailable,
                      ready.err().message
                        + (log ? "; agent log: " + *log : std::string{}));
  }
  return endpoint(spec);
}

status host_backend::stop(const sandbox_spec& spec) {
  auto stopped = stop_agent(spec);
  // What its commands left (a `setsid` daemon) goes with the cgroup.
  kill_cgroups(spec.workspace_id);
  remove_cgroups(spec.workspace_id);
  return stopped;
}

status host_backend::destroy(const sandbox_spec& spec) {
  if (auto stopped = stop(spec); !stopped)
    return stopped;
  return remove_backend_files(spec, spec.workspace_dir / "host", "host-compat");
}

} // namespace pyro::vmm
