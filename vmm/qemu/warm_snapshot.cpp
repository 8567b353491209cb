#include "vmm/qemu/warm_snapshot.hpp"

#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/file_lock.hpp"
#include "vmm/agent_process.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/qemu/guest_process.hpp"
#include "vmm/qemu/qmp_client.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// What a restore must match; any change makes a new snapshot.
json snapshot_key(const vm_images& images, const qemu_settings& s) {
  std::error_code ec;
  auto qemu_mtime
    = fs::last_write_time(s.binary, ec).time_since_epoch().count();
  return json{{"images", vm_images_info(images.dir.parent_path())},
              {"mem_mib", s.mem_mib},
              {"vcpu_count", s.vcpu_count},
              {"accel", s.accel},
              {"qemu", s.binary.empty() ? "" : fs::path{s.binary}.string()},
              {"qemu_mtime", qemu_mtime}};
}

std::string key_name(const json& key) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx",
                std::hash<std::string>{}(key.dump()));
  return hex;
}

bool complete(const warm_snapshot& w, const json& key) {
  auto text = sys::read_file(w.dir / "warm.json");
  if (!text)
    return false;
  auto j = json::parse(*text, nullptr, false);
  std::error_code ec;
  return j.is_object() && j.value("key", json{}) == key
         && fs::exists(w.memory(), ec) && fs::exists(w.disk(), ec);
}

class temp_runtime {
public:
  temp_runtime() {
    // Sockets live in /tmp: the cache path may be too long for sun_path.
    char tmpl[] = "/tmp/pyro-warm-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr)
      runtime_
        = {tmpl, fs::path{tmpl} / "relay.sock", fs::path{tmpl} / "pid.json"};
  }
  ~temp_runtime() {
    std::error_code ec;
    if (!runtime_.dir.empty())
      fs::remove_all(runtime_.dir, ec);
  }
  temp_runtime(const temp_runtime&) = delete;
  temp_runtime& operator=(const temp_runtime&) = delete;

  [[nodiscard]] const guest_runtime& get() const {
    return runtime_;
  }

private:
  guest_runtime runtime_;
};

// Boots the template guest on `staging`'s disk and saves its memory there.
status take_snapshot(qemu_settings s, const warm_snapshot& staging) {
  temp_runtime runtime;
  if (runtime.get().dir.empty())
    return make_error(error_code::internal, "cannot create a scratch dir");
  runtime.get().fill(s);
  s.disk = staging.disk();
  s.disk_format = "qcow2";
  s.hostname = "pyro-warm";
  s.incoming.clear();
  auto supervisor = launch_guest(s, runtime.get());
  if (!supervisor)
    return supervisor.err();
  auto ended = [&](status outcome) {
    static_cast<void>(terminate(*supervisor, 5s));
    return outcome;
  };
  if (auto ready = wait_for_agent(*supervisor, runtime.get(),
                                  clock_type::now() + vm_boot_timeout());
      !ready)
    return ended(make_error(ready.err().code,
                            ready.err().message + runtime.get().log_tail()));
  auto qmp = qmp_client::connect(runtime.get().qmp_socket(), 5s);
  if (!qmp)
    return ended(qmp.err());
  if (auto paused = qmp->execute("stop"); !paused)
    return ended(paused.err());
  auto uri = "exec:cat > " + staging.memory().string();
  if (auto started = qmp->execute("migrate", json{{"uri", uri}}); !started)
    return ended(started.err());
  auto deadline = clock_type::now() + 60s;
  for (;;) {
    auto state = qmp->execute("query-migrate");
    if (!state)
      return ended(state.err());
    auto st = state->value("status", std::string{});
    if (st == "completed")
      break;
    if (st == "failed" || st == "cancelled" || clock_type::now() > deadline)
      return ended(make_error(error_code::unavailable,
                              "saving the warm snapshot " + st + ": "
                                + state->value("error-desc", std::string{})));
    std::this_thread::sleep_for(20ms);
  }
  static_cast<void>(qmp->execute("quit"));
  return ended({});
}

} // namespace

bool warm_start_enabled() {
  const char* v = std::getenv("PYRO_VM_WARM");
  return v == nullptr || std::string{v} != "0";
}

result<warm_snapshot> ensure_warm_snapshot(const vm_images& images,
                                           const qemu_settings& settings) {
  auto key = snapshot_key(images, settings);
  auto root = images.dir / "warm";
  warm_snapshot found{root / key_name(key)};
  if (complete(found, key))
    return found;
  std::error_code ec;
  fs::create_directories(root, ec);
  auto lock = sys::file_lock::acquire(root / (key_name(key) + ".lock"), 10min);
  if (!lock)
    return lock.err();
  if (complete(found, key))
    return found;
  warm_snapshot staging{
    root / (".staging-" + key_name(key) + "-" + std::to_string(::getpid()))};
  fs::remove_all(staging.dir, ec);
  fs::create_directories(staging.dir, ec);
  auto fail = [&](const error& e) {
    fs::remove_all(staging.dir, ec);
    return e;
  };
  fs::create_hard_link(images.disk(), staging.base(), ec);
  if (ec)
    return fail(make_error(error_code::internal,
                           "cannot link the root image: " + ec.message()));
  if (auto made = make_overlay("base.ext4", "raw", staging.disk()); !made)
    return fail(made.err());
  if (auto taken = take_snapshot(settings, staging); !taken)
    return fail(taken.err());
  json info{{"key", key}, {"taken_at", sys::unix_now()}};
  if (auto w = sys::write_file_atomic(staging.dir / "warm.json", info.dump(2));
      !w)
    return fail(w.err());
  fs::remove_all(found.dir, ec);
  fs::rename(staging.dir, found.dir, ec);
  if (ec)
    return fail(
      make_error(error_code::internal,
                 "cannot install the warm snapshot: " + ec.message()));
  return found;
}

} // namespace pyro::vmm
