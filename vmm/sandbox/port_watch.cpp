#include "vmm/sandbox/port_watch.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "messages/wire/agent_client.hpp"
#include "vmm/process_identity.hpp"
#include "vmm/sandbox/forward_table.hpp"
#include "vmm/sandbox/slirp.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Long polls, so that a watcher whose sandbox went without a word (its
// agent frozen, say) still looks again now and then.
constexpr int wait_seconds = 300;

void say(const std::string& service, const std::string& line) {
  std::fprintf(stderr, "pyro-port-watch[%s]: %s\n", service.c_str(),
               line.c_str());
  std::fflush(stderr);
}

// The sandbox runtime/pid.json names now; start_time 0 when there is none.
process_identity sandbox_of(const fs::path& runtime_dir) {
  auto text = sys::read_file(runtime_dir / "pid.json");
  auto j = text ? json::parse(*text, nullptr, false) : json{};
  return j.is_object() ? process_identity_from_json(j) : process_identity{};
}

bool same(const process_identity& a, const process_identity& b) {
  return a.pid == b.pid && a.start_time == b.start_time;
}

// True once the service's process has ended; false when the sandbox is
// gone first (or the agent cannot be asked at all).
bool wait_for_end(const fs::path& runtime_dir, const std::string& service,
                  const process_identity& sandbox) {
  wire::agent_client agent{(runtime_dir / "sock" / "agent.sock").string(),
                           std::chrono::seconds{5}, 0, sandbox.pid};
  json args{{"name", service}, {"timeout_seconds", wait_seconds}};
  while (alive(sandbox)) {
    auto reply = agent.call("service_wait", args, nullptr, nullptr,
                            std::chrono::seconds{wait_seconds + 30});
    if (reply) {
      if (reply->value("ended", false))
        return true;
      if (reply->contains("pid") && (*reply)["pid"].is_number_integer())
        args["pid"] = (*reply)["pid"]; // this instance, not a later one
      continue;
    }
    if (reply.err().code == error_code::not_found)
      return true; // the agent no longer knows it
    if (reply.err().code == error_code::invalid_argument) {
      say(service, "the agent cannot wait for services (" + reply.err().message
                     + "); its ports stay published until it is stopped");
      return false;
    }
    // Unreachable for now (stopping, or busy): the sandbox check decides.
    std::this_thread::sleep_for(1s);
  }
  return false;
}

} // namespace

int run_port_watch(const fs::path& runtime_dir, const std::string& service,
                   const std::set<int>& ids) {
  auto sandbox = sandbox_of(runtime_dir);
  if (!alive(sandbox) || !wait_for_end(runtime_dir, service, sandbox))
    return 0;
  forward_table table{runtime_dir};
  auto lock = table.lock();
  if (!lock) {
    say(service, lock.err().message);
    return 1;
  }
  // A sandbox started since (stop and start, reset) has a slirp4netns of
  // its own, which counts forward ids from 1 again: none of them is ours.
  if (!same(sandbox_of(runtime_dir), sandbox) || !alive(sandbox))
    return 0;
  // Ours even when the table says otherwise: a service started again under
  // the same name before we got here has replaced the entry, not removed
  // these forwards; and a `service stop` that got here first removed them
  // already, which slirp4netns then says and we ignore.
  std::string closed;
  for (int id : ids)
    if (slirp_remove_forward(runtime_dir / "slirp.sock", id))
      closed += (closed.empty() ? "" : ", ") + std::to_string(id);
  auto all = table.load();
  if (all.contains(service) && forward_table::ids_of(all[service]) == ids) {
    all.erase(service);
    if (auto saved = table.save(all); !saved)
      say(service, saved.err().message);
  }
  if (!closed.empty())
    say(service, "the service ended; closed its forwards " + closed);
  return 0;
}

} // namespace pyro::vmm
