// idle: N = 1, 10, 100, 1000 idle sandbox workspaces held at once. Memory
// per workspace is the proportional set size (PSS: shared pages divided
// among their users, page cache not mapped by anyone excluded) of every
// process in its sandbox; create time is measured as N grows.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/support/latency.hpp"
#include "bench/workloads/bench_env.hpp"
#include "bench/workloads/workloads.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro::bench {

namespace fs = std::filesystem;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr double target_kib = 2048;

long pss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/smaps_rollup"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Pss:", 0) == 0)
      return std::stol(line.substr(4));
  return 0;
}

// Parent of every process on the host, to find a sandbox's descendants.
std::map<pid_t, pid_t> parents() {
  std::map<pid_t, pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{e.path() / "stat"};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    auto close = text.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{text.substr(close + 2)};
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    out[std::stoi(name)] = ppid;
  }
  return out;
}

long sandbox_pss_kib(pid_t init, const std::map<pid_t, pid_t>& parent_of) {
  long total = 0;
  for (const auto& [pid, ppid] : parent_of) {
    for (pid_t p = pid; p > 1; p = parent_of.count(p) ? parent_of.at(p) : 0)
      if (p == init) {
        total += pss_kib(pid);
        break;
      }
  }
  return total;
}

} // namespace

workload_result run_idle(const run_options& o) {
  workload_result out;
  bench_env env;
  if (!env.ready()) {
    out.rows.push_back({{"workload", "idle"},
                        {"errors", 1},
                        {"measurement", "set-up failed: " + env.error()}});
    return out;
  }
  Pyro sdk{pyro_options{env.home(), std::chrono::minutes{10}}};
  std::vector<int> sizes
    = o.quick ? std::vector<int>{1, 4} : std::vector<int>{1, 10, 100, 1000};
  json memory_curve = json::array();
  json create_curve = json::array();
  samples first_create{"create with no other workspace", {}};
  for (int n : sizes) {
    samples creates{"create, " + std::to_string(n) + " held", {}};
    std::vector<std::string> ids;
    int errors = 0;
    for (int i = 0; i < n; ++i) {
      create_request r;
      r.environment = "busybox";
      r.ttl_seconds = 3600;
      auto began = clock_type::now();
      auto ws = sdk.create_workspace(r);
      if (!ws) {
        ++errors;
        continue;
      }
      creates.us.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - began)
          .count());
      ids.push_back(ws->workspace_id);
    }
    if (n == sizes.front())
      first_create.us = creates.us;
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    auto parent_of = parents();
    long total_kib = 0;
    for (const auto& id : ids) {
      std::ifstream in{env.home() / "workspaces" / id / "runtime" / "pid.json"};
      auto identity = json::parse(in, nullptr, false);
      if (identity.is_object() && identity.contains("pid"))
        total_kib += sandbox_pss_kib(identity["pid"].get<pid_t>(), parent_of);
      else
        ++errors;
    }
    double per_ws = ids.empty() ? 0 : double(total_kib) / double(ids.size());
    out.rows.push_back({{"workload", "idle"},
                        {"measurement", std::to_string(n)
                                          + " idle workspaces: memory per "
                                            "workspace (PSS)"},
                        {"n", ids.size()},
                        {"value_kib", per_ws},
                        {"total_kib", total_kib},
                        {"errors", errors},
                        {"target", "< 2 MiB per workspace"},
                        {"met", per_ws > 0 && per_ws < target_kib},
                        {"machine", machine_label()}});
    double ref = first_create.p50();
    out.rows.push_back({{"workload", "idle"},
                        {"measurement", creates.name},
                        {"n", creates.us.size()},
                        {"p50_us", creates.p50()},
                        {"p95_us", creates.p95()},
                        {"p99_us", creates.p99()},
                        {"reference", first_create.name},
                        {"reference_p50_us", ref},
                        {"ratio_p50", ref > 0 ? creates.p50() / ref : 0},
                        {"errors", errors},
                        {"machine", machine_label()}});
    memory_curve.push_back({n, per_ws});
    create_curve.push_back({n, creates.p50() / 1000});
    for (const auto& id : ids)
      static_cast<void>(sdk.delete_workspace(id));
  }
  out.series["idle: memory per workspace (KiB)"] = memory_curve;
  out.series["idle: create p50 (ms)"] = create_curve;
  return out;
}

} // namespace pyro::bench
