#include "vmm/agent_process.hpp"

#include <thread>

#include <nlohmann/json.hpp>
#include <signal.h>

#include "messages/sys/atomic_file.hpp"

namespace pyro::vmm {

using namespace std::chrono_literals;

std::filesystem::path pid_file(const sandbox_spec& spec) {
  return spec.runtime_dir() / "pid.json";
}

std::filesystem::path socket_path(const sandbox_spec& spec) {
  return spec.runtime_dir() / "sock" / "agent.sock";
}

process_identity read_identity(const sandbox_spec& spec) {
  auto text = sys::read_file(pid_file(spec));
  if (!text)
    return {};
  return process_identity_from_json(
    nlohmann::json::parse(*text, nullptr, false));
}

namespace {

// Whether the process ends within `limit`; gives up early once it has been
// stopped for `stuck`, since the rest of the limit would pass in vain.
bool wait_gone(const process_identity& id, std::chrono::milliseconds limit,
               std::chrono::milliseconds stuck) {
  using clock = std::chrono::steady_clock;
  auto now = clock::now();
  auto deadline = now + limit;
  auto stuck_since = clock::time_point::max();
  while (alive(id) && now < deadline) {
    if (!stopped(id))
      stuck_since = clock::time_point::max();
    else if (stuck_since == clock::time_point::max())
      stuck_since = now;
    else if (now - stuck_since >= stuck)
      break;
    std::this_thread::sleep_for(2ms);
    now = clock::now();
  }
  return !alive(id);
}

} // namespace

status terminate(const process_identity& id, std::chrono::milliseconds grace) {
  if (!alive(id))
    return {};
  ::kill(id.pid, SIGTERM);
  // A process stopped by SIGSTOP acts on TERM only once continued; one a
  // tracer holds stays stopped, and gets KILL without waiting out `grace`.
  ::kill(id.pid, SIGCONT);
  if (wait_gone(id, grace, 500ms))
    return {};
  ::kill(id.pid, SIGKILL);
  if (wait_gone(id, 5s, 5s))
    return {};
  return make_error(error_code::internal,
                    "process " + std::to_string(id.pid) + " survived SIGKILL");
}

error not_running_error(const sandbox_spec& spec) {
  return make_error(error_code::failed_precondition,
                    "workspace '" + spec.workspace_id + "' is not running",
                    "start it with `pyro workspace start " + spec.workspace_id
                      + "`");
}

result<agent_endpoint>
detached_agent_backend::endpoint(const sandbox_spec& spec) {
  auto agent = read_identity(spec);
  if (!alive(agent))
    return not_running_error(spec);
  return agent_endpoint{socket_path(spec), 0, agent.pid};
}

bool detached_agent_backend::running(const sandbox_spec& spec) {
  return alive(read_identity(spec));
}

status detached_agent_backend::stop_agent(const sandbox_spec& spec) {
  if (auto stopped = terminate(read_identity(spec), 10s); !stopped)
    return stopped;
  std::error_code ec;
  std::filesystem::remove(pid_file(spec), ec);
  std::filesystem::remove(socket_path(spec), ec);
  return {};
}

namespace {

void open_up(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(dir, ec)))
    return;
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    open_up(e.path());
}

} // namespace

status remove_backend_files(const sandbox_spec& spec,
                            const std::filesystem::path& dir,
                            const std::string& what) {
  std::error_code ec;
  for (const auto& p : {dir, spec.runtime_dir()}) {
    std::filesystem::remove_all(p, ec);
    if (ec) {
      // overlayfs leaves its work/work directory mode 000; in an
      // unprivileged sandbox that is the user's own and needs opening up.
      open_up(p);
      ec.clear();
      std::filesystem::remove_all(p, ec);
    }
    if (ec)
      return make_error(error_code::internal,
                        "cannot remove the " + what + " files of '"
                          + spec.workspace_id + "': " + p.string() + ": "
                          + ec.message());
  }
  return {};
}

} // namespace pyro::vmm
