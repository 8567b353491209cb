#include "vmm/sandbox/sandbox_backend.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/agent_process.hpp"
#include "vmm/child_process.hpp"
#include "vmm/sandbox/cgroups.hpp"
#include "vmm/sandbox/launch_spec.hpp"
#include "vmm/sandbox/slirp.hpp"
#include "vmm/sandbox/workspace_disk.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Beside, never inside, the socket directory the sandbox sees: its API
// adds port forwards.
fs::path slirp_socket(const sandbox_spec& spec) {
  return spec.runtime_dir() / "slirp.sock";
}

fs::path layer_dir(const sandbox_spec& spec) {
  return spec.workspace_dir / "sandbox";
}

std::string recorded_cgroup(const sandbox_spec& spec) {
  auto text = sys::read_file(pid_file(spec));
  auto j
    = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json{};
  if (j.is_object() && j.value("cgroup", "") != "")
    return j.value("cgroup", "");
  return spec.workspace_id;
}

} // namespace

backend_capabilities sandbox_backend::capabilities() const {
  return {true, false, true, static_cast<bool>(find_slirp4netns())};
}

status sandbox_backend::prepare(const sandbox_spec& spec) {
  std::error_code ec;
  for (const auto& dir : {layer_dir(spec), spec.runtime_dir() / "sock"}) {
    fs::create_directories(dir, ec);
    if (ec)
      return make_error(error_code::internal,
                        "cannot create " + dir.string() + ": " + ec.message());
  }
  fs::permissions(spec.runtime_dir(), fs::perms::owner_all, ec);
  // A workspace keeps the kind of layers it was born with: one made before
  // disk limits, or by a user who cannot mount, goes on with directories.
  auto image = disk_image_path(layer_dir(spec));
  if (fs::exists(image, ec) || fs::exists(layer_dir(spec) / "upper", ec))
    return {};
  if (spec.disk_mib > 0 && disk_limits_enforceable())
    return make_disk_image(image, spec.disk_mib);
  for (const auto& dir : {layer_dir(spec) / "upper", layer_dir(spec) / "work"}) {
    fs::create_directories(dir, ec);
    if (ec)
      return make_error(error_code::internal,
                        "cannot create " + dir.string() + ": " + ec.message());
  }
  return {};
}

bool sandbox_backend::disk_limited(const sandbox_spec& spec) const {
  std::error_code ec;
  return fs::exists(disk_image_path(layer_dir(spec)), ec);
}

result<agent_endpoint> sandbox_backend::boot(const sandbox_spec& spec) {
  // PID 1 listens on the agent socket before the launcher returns.
  if (!running(spec))
    if (auto launched = launch(spec, false); !launched)
      return launched.err();
  return endpoint(spec);
}

status claim_ticket::wait(std::chrono::milliseconds timeout) const {
  auto said = read_to_eof(answer.get(), "the parked sandbox", timeout);
  if (!said)
    return said.err();
  if (!said->empty())
    return make_error(error_code::unavailable,
                      "the parked sandbox could not become workspace '"
                        + workspace_id + "': " + *said);
  return {};
}

result<agent_endpoint> sandbox_backend::park(const sandbox_spec& slot) {
  if (slot.network_policy != "off")
    return make_error(error_code::invalid_argument,
                      "only sandboxes with network policy off are pooled");
  if (auto launched = launch(slot, true); !launched)
    return launched.err();
  return endpoint(slot);
}

result<claim_ticket> sandbox_backend::claim(const sandbox_spec& spec) {
  if (!running(spec))
    return not_running_error(spec);
  auto park_socket = spec.runtime_dir() / "sock" / park_socket_name;
  auto sent = send_line(park_socket, spec.workspace_id + "\n");
  if (!sent)
    return sent.err();
  // PID 1 takes one claim and closes its end; the name goes with it.
  std::error_code ec;
  fs::remove(park_socket, ec);
  auto agent = endpoint(spec);
  if (!agent)
    return agent.err();
  return claim_ticket{*agent, spec.workspace_id, std::move(*sent)};
}

status sandbox_backend::launch(const sandbox_spec& spec, bool park) {
  // One sandbox per workspace, ever: an earlier launch killed half-way may
  // have left a PID 1 that no pid file names (so `running` said no). It and
  // everything it started live in the workspace's cgroup, and go before a
  // new sandbox shares their layers.
  for (const auto& previous : {recorded_cgroup(spec), spec.workspace_id}) {
    kill_cgroups(previous);
    remove_cgroups(previous);
  }
  if (auto prepared = prepare(spec); !prepared)
    return prepared.err();
  auto helper = sandbox_helper_binary();
  if (!helper)
    return helper.err();
  std::error_code ec;
  fs::remove(socket_path(spec), ec);
  fs::remove(pid_file(spec), ec);
  launch_spec launch;
  launch.workspace_id = spec.workspace_id;
  launch.lower = spec.rootfs;
  launch.layers = layer_dir(spec);
  if (auto image = disk_image_path(layer_dir(spec)); fs::exists(image, ec))
    launch.disk_image = image;
  launch.socket_dir = spec.runtime_dir() / "sock";
  launch.agent_binary = spec.agent_binary;
  launch.pid_file = pid_file(spec);
  launch.log_file = spec.runtime_dir() / "sandbox.log";
  launch.vcpu_count = spec.vcpu_count;
  launch.mem_mib = spec.mem_mib;
  launch.network_policy = spec.network_policy;
  launch.park = park;
  if (park)
    launch.owner_pid = ::getpid();
  if (spec.network_policy != "off") {
    auto slirp = find_slirp4netns();
    if (!slirp)
      return slirp.err();
    launch.slirp_binary = *slirp;
    launch.slirp_socket = slirp_socket(spec);
  }
  auto spec_path = spec.runtime_dir() / "sandbox.json";
  if (auto written
      = sys::write_file_atomic(spec_path, to_json(launch).dump(2), 0600);
      !written)
    return written.err();
  auto ran = run_helper({helper->string(), "launch", spec_path.string()}, 30s);
  if (!ran)
    return ran.err();
  if (ran->exit_code != 0)
    return make_error(error_code::unavailable,
                      "the sandbox for workspace '" + spec.workspace_id
                        + "' failed to start: " + ran->err,
                      "`pyro doctor` shows whether namespaces and overlayfs "
                      "work on this host");
  return {};
}

result<int> sandbox_backend::publish_port(const sandbox_spec& spec,
                                          int host_port, int guest_port) {
  if (spec.network_policy != "egress+published-ports")
    return make_error(error_code::failed_precondition,
                      "workspace '" + spec.workspace_id
                        + "' has network policy '" + spec.network_policy
                        + "'; publishing ports needs egress+published-ports",
                      "recreate it with --network-policy "
                      "egress+published-ports");
  return slirp_add_forward(slirp_socket(spec), host_port, guest_port);
}

status sandbox_backend::unpublish_port(const sandbox_spec& spec, int id) {
  return slirp_remove_forward(slirp_socket(spec), id);
}

status sandbox_backend::stop(const sandbox_spec& spec) {
  // Read before stop_agent removes the pid file: a sandbox that came from
  // the pool has its slot's cgroup.
  auto cgroup = recorded_cgroup(spec);
  auto stopped = stop_agent(spec);
  // Whatever escaped PID 1's end (a process of a sandbox whose PID 1 was
  // killed half-way through set-up) goes with its cgroup.
  kill_cgroups(cgroup);
  remove_cgroups(cgroup);
  return stopped;
}

status sandbox_backend::destroy(const sandbox_spec& spec) {
  if (auto stopped = stop(spec); !stopped)
    return stopped;
  return remove_backend_files(spec, layer_dir(spec), "sandbox");
}

} // namespace pyro::vmm
