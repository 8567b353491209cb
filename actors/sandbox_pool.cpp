#include "actors/sandbox_pool.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actors/create_request.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/environments/environment_users.hpp"
#include "vmm/sandbox/sandbox_backend.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Leftovers of a process killed while parking or claiming are this old
// before `drain(all)` takes them: younger ones may still be in use.
constexpr auto leftover_age = std::chrono::minutes{1};

// What a slot was built from: a rebuilt agent or helper, or a re-installed
// environment, makes it stale.
json build_of(const fs::path& rootfs) {
  return json{{"rootfs", rootfs.string()},
              {"agent", vmm::binary_stamp(vmm::agent_binary())},
              {"helper", vmm::binary_stamp(vmm::sandbox_helper_binary())}};
}

// Bumped when a slot's contents change: older slots are then stale.
constexpr int slot_layout = 3;

json slot_json(const pool_key& key, const fs::path& rootfs) {
  return json{{"layout", slot_layout},
              {"environment", key.environment},
              {"vcpu_count", key.vcpu_count},
              {"mem_mib", key.mem_mib},
              {"disk_mib", key.disk_mib},
              {"build", build_of(rootfs)}};
}

json read_slot(const fs::path& dir) {
  auto text = sys::read_file(dir / "slot.json");
  return text ? json::parse(*text, nullptr, false) : json{};
}

vmm::sandbox_spec slot_spec(const std::string& name, const fs::path& dir,
                            const pool_key& key) {
  vmm::sandbox_spec spec;
  spec.workspace_id = name;
  spec.workspace_dir = dir;
  spec.vcpu_count = key.vcpu_count;
  spec.mem_mib = key.mem_mib;
  spec.disk_mib = key.disk_mib;
  return spec;
}

// Destroys whatever sandbox a slot directory holds, then the directory.
void destroy_slot(const fs::path& dir) {
  vmm::sandbox_backend backend;
  static_cast<void>(
    backend.destroy(slot_spec(dir.filename().string(), dir, {})));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

bool hidden(const std::string& name) {
  return name.empty() || name.front() == '.';
}

} // namespace

int sandbox_pool_target(int fallback) {
  const char* text = std::getenv("PYRO_SANDBOX_POOL");
  if (text == nullptr || *text == '\0')
    return fallback;
  char* end = nullptr;
  long n = std::strtol(text, &end, 10);
  if (*end != '\0' || n < 0)
    return fallback;
  return static_cast<int>(std::min(n, 16L));
}

std::set<std::string> sandbox_pool::slots() const {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir(), ec))
    if (auto name = e.path().filename().string(); !hidden(name))
      out.insert(name);
  return out;
}

std::set<std::string> sandbox_pool::environments() const {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir(), ec))
    if (auto slot = read_slot(e.path()); slot.is_object())
      if (auto name = slot.value("environment", std::string{}); !name.empty())
        out.insert(name);
  return out;
}

size_t sandbox_pool::count(const pool_key& key) const {
  auto rootfs = installed_rootfs(key.environment);
  if (!rootfs)
    return 0;
  auto want = slot_json(key, *rootfs);
  size_t n = 0;
  vmm::sandbox_backend backend;
  for (const auto& name : slots()) {
    auto slot = dir() / name;
    if (read_slot(slot) == want && backend.running(slot_spec(name, slot, key)))
      ++n;
  }
  return n;
}

result<claimed_slot> sandbox_pool::claim(const pool_key& key,
                                         const std::string& id) const {
  auto none = make_error(error_code::not_found, "no parked sandbox fits");
  auto rootfs = installed_rootfs(key.environment);
  if (!rootfs)
    return none;
  auto want = slot_json(key, *rootfs);
  vmm::sandbox_backend backend;
  for (const auto& name : slots()) {
    auto slot = dir() / name;
    auto have = read_slot(slot);
    if (have != want) {
      if (have.is_object()
          && (have.value("build", json{}) != want["build"]
              || have.value("layout", 0) != slot_layout))
        drain({name});
      continue;
    }
    // The claim itself: whoever renames the slot away owns it.
    auto taken = dir() / ("." + name + ".claim");
    std::error_code ec;
    fs::rename(slot, taken, ec);
    if (ec)
      continue;
    if (!backend.running(slot_spec(name, taken, key))) {
      destroy_slot(taken);
      continue;
    }
    // The workspace is locked before it shows, with a lock file made ahead.
    auto lock_file = store_.lock_path(id);
    fs::create_directories(lock_file.parent_path(), ec);
    fs::rename(taken / "lock", lock_file, ec);
    auto lock = sys::file_lock::acquire(lock_file, 1s);
    if (!lock) {
      destroy_slot(taken);
      return lock.err();
    }
    // The slot is laid out as a workspace directory: it becomes this one.
    auto home = store_.workspace_dir(id);
    fs::create_directories(home.parent_path(), ec);
    fs::rename(taken, home, ec);
    if (ec) {
      destroy_slot(taken);
      return make_error(error_code::internal, "cannot move parked sandbox "
                                                + name + " to " + home.string()
                                                + ": " + ec.message());
    }
    auto spec = slot_spec(id, home, key);
    auto ticket = backend.claim(spec);
    if (ticket)
      return claimed_slot{std::move(*lock), std::move(*ticket)};
    destroy_slot(home);
    return ticket.err();
  }
  return none;
}

result<std::string> sandbox_pool::park(const pool_key& key) const {
  auto in_use = vmm::use_environment(store_.home(), key.environment);
  auto rootfs = installed_rootfs(key.environment);
  if (!rootfs)
    return rootfs.err();
  auto agent = vmm::agent_binary();
  if (!agent)
    return agent.err();
  auto name = random_name("pool-");
  auto building = dir() / ("." + name + ".new");
  auto spec = slot_spec(name, building, key);
  spec.rootfs = *rootfs;
  spec.agent_binary = *agent;
  vmm::sandbox_backend backend;
  auto fail = [&](const error& e) -> result<std::string> {
    destroy_slot(building);
    return e;
  };
  auto parked = backend.park(spec);
  if (!parked)
    return fail(parked.err());
  // Nothing has run in the sandbox: what /workspace holds now is what every
  // workspace that claims it starts from.
  auto link = connect_agent(*parked);
  if (!link)
    return fail(link.err());
  if (auto taken = take_baseline(**link, building / "baseline"); !taken)
    return fail(taken.err());
  link->reset(); // the agent that served it exits
  // What a workspace's create and first exec would otherwise create now.
  std::error_code ec;
  fs::create_directories(building / "commands", ec);
  if (auto counted = activity_file{building / "activity"}.write({}); !counted)
    return fail(counted.err());
  if (auto lock = sys::write_file_atomic_unsynced(building / "lock", "", 0600);
      !lock)
    return fail(lock.err());
  if (auto written = sys::write_file_atomic(
        building / "slot.json", dump_json(slot_json(key, *rootfs)), 0600);
      !written)
    return fail(written.err());
  fs::rename(building, dir() / name, ec);
  if (ec)
    return fail(
      make_error(error_code::internal, "cannot publish parked sandbox " + name
                                         + ": " + ec.message()));
  return name;
}

void sandbox_pool::drain(const std::set<std::string>& names, bool all) const {
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(dir(), ec)) {
    auto name = e.path().filename().string();
    if (hidden(name)) {
      std::error_code age_ec;
      auto mtime = fs::last_write_time(e.path(), age_ec);
      if (all && !age_ec && now - mtime > leftover_age)
        destroy_slot(e.path());
      continue;
    }
    if (!all && names.count(name) == 0)
      continue;
    // Hidden first, so that nobody claims it while it goes.
    auto going = dir() / ("." + name + ".drain");
    std::error_code mv;
    fs::rename(e.path(), going, mv);
    if (!mv)
      destroy_slot(going);
  }
}

pool_actor::behavior_type
pool_impl(pool_actor::stateful_pointer<pool_state> self,
          std::shared_ptr<const state_store> store, int target) {
  self->state.store = store;
  self->state.target = target;
  // Runs after the state is gone: holds its own references.
  self->attach_functor([store, parked = self->state.parked](const caf::error&) {
    sandbox_pool{*store}.drain(*parked);
  });
  return {
    [=](refill_atom, const std::string& environment, int32_t vcpu_count,
        int32_t mem_mib, int32_t disk_mib) {
      auto& st = self->state;
      // Parking runs beside the caller's first commands in the sandbox it
      // just got: it yields the CPU to them.
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
      sandbox_pool pool{*st.store};
      pool_key key{environment, vcpu_count, mem_mib, disk_mib};
      // Best effort: a pool that cannot be filled only means cold creates.
      for (auto n = pool.count(key); n < static_cast<size_t>(st.target); ++n) {
        auto name = pool.park(key);
        if (!name)
          break;
        st.parked->insert(*name);
      }
    },
  };
}

} // namespace pyro
