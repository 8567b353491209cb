// fleet: N workspaces created at concurrency C, each running M execs and
// one diff, then deleted; in-process through the C++ SDK and through MCP
// over HTTP. The reference is the same work for one workspace at a time.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "bench/support/latency.hpp"
#include "bench/support/mcp_client.hpp"
#include "bench/workloads/bench_env.hpp"
#include "bench/workloads/workloads.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro::bench {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

// How one workspace's life is driven: in-process or through MCP.
struct driver {
  std::function<std::string()> create;
  std::function<bool(const std::string&)> exec;
  std::function<bool(const std::string&)> diff;
  std::function<bool(const std::string&)> remove;
};

struct timings {
  std::mutex mtx;
  samples create{"create", {}};
  samples exec{"exec", {}};
  samples diff{"diff", {}};
  std::atomic<int> errors{0};

  void add(samples& s, clock_type::time_point began) {
    auto us
      = std::chrono::duration<double, std::micro>(clock_type::now() - began)
          .count();
    std::lock_guard<std::mutex> guard{mtx};
    s.us.push_back(us);
  }
};

void one_workspace(const driver& d, int execs, timings& t) {
  auto began = clock_type::now();
  auto id = d.create();
  if (id.empty()) {
    ++t.errors;
    return;
  }
  t.add(t.create, began);
  for (int i = 0; i < execs; ++i) {
    began = clock_type::now();
    if (d.exec(id))
      t.add(t.exec, began);
    else
      ++t.errors;
  }
  began = clock_type::now();
  if (d.diff(id))
    t.add(t.diff, began);
  else
    ++t.errors;
  if (!d.remove(id))
    ++t.errors;
}

double run_fleet_with(const driver& d, int workspaces, int concurrency,
                      int execs, timings& t) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  auto began = clock_type::now();
  for (int c = 0; c < concurrency; ++c)
    threads.emplace_back([&] {
      while (next++ < workspaces)
        one_workspace(d, execs, t);
    });
  for (auto& th : threads)
    th.join();
  return std::chrono::duration<double>(clock_type::now() - began).count();
}

json row(const std::string& measurement, const samples& s,
         const samples& reference, int errors, bool judged) {
  double ref = reference.p50();
  return json{{"workload", "fleet"},
              {"measurement", measurement},
              {"n", s.us.size()},
              {"p50_us", s.p50()},
              {"p95_us", s.p95()},
              {"p99_us", s.p99()},
              {"reference", reference.name},
              {"reference_p50_us", ref},
              {"ratio_p50", ref > 0 ? s.p50() / ref : 0},
              {"errors", errors},
              {"target", judged ? "zero errors" : ""},
              {"met", judged ? json(errors == 0) : json(nullptr)},
              {"machine", machine_label()}};
}

} // namespace

workload_result run_fleet(const run_options& o) {
  workload_result out;
  bench_env env;
  if (!env.ready()) {
    out.rows.push_back({{"workload", "fleet"},
                        {"errors", 1},
                        {"measurement", "set-up failed: " + env.error()}});
    return out;
  }
  int workspaces = o.quick ? 4 : 100;
  int concurrency = o.quick ? 2 : 100;
  int execs = o.quick ? 3 : 10;
  Pyro sdk{pyro_options{env.home(), std::chrono::minutes{10}}};
  driver local{[&] {
                 create_request r;
                 r.environment = "busybox";
                 auto ws = sdk.create_workspace(r);
                 return ws ? ws->workspace_id : std::string{};
               },
               [&](const std::string& id) {
                 exec_request e;
                 e.command = "echo fleet >> log.txt";
                 auto r = sdk.exec_workspace(id, e);
                 return r && r->outcome.exit_code == 0;
               },
               [&](const std::string& id) {
                 auto d = sdk.diff_workspace(id);
                 return d && d->changed;
               },
               [&](const std::string& id) {
                 return static_cast<bool>(sdk.delete_workspace(id));
               }};
  timings reference;
  run_fleet_with(local, o.quick ? 2 : 5, 1, execs, reference);
  reference.exec.name = "exec, one workspace at a time";
  timings inproc;
  auto inproc_s = run_fleet_with(local, workspaces, concurrency, execs, inproc);

  auto [server, port] = start_mcp_server();
  driver mcp{
    [port = port] {
      mcp_session s{port};
      if (!s.open())
        return std::string{};
      auto r = s.tool("workspace_create", {{"environment", "busybox"}});
      return r.is_object() ? r.value("workspace_id", std::string{})
                           : std::string{};
    },
    [port = port](const std::string& id) {
      mcp_session s{port};
      auto r = s.open() ? s.tool(
                 "workspace_exec",
                 {{"workspace_id", id}, {"command", "echo fleet >> log.txt"}})
                        : json();
      return r.is_object() && r.value("exit_code", -1) == 0;
    },
    [port = port](const std::string& id) {
      mcp_session s{port};
      auto r
        = s.open() ? s.tool("workspace_diff", {{"workspace_id", id}}) : json();
      return r.is_object() && r.value("changed", false);
    },
    [port = port](const std::string& id) {
      mcp_session s{port};
      return s.open()
             && s.tool("workspace_delete", {{"workspace_id", id}}).is_object();
    }};
  timings over_mcp;
  auto mcp_s = run_fleet_with(mcp, workspaces, concurrency, execs, over_mcp);
  stop_mcp_server(server);

  auto label = std::to_string(workspaces) + " workspaces at concurrency "
               + std::to_string(concurrency);
  for (auto [name, t, seconds] :
       {std::tuple{"in-process", &inproc, inproc_s},
        std::tuple{"MCP over HTTP", &over_mcp, mcp_s}}) {
    auto prefix = std::string{name} + ", " + label + ": ";
    auto exec_row
      = row(prefix + "exec", t->exec, reference.exec, t->errors, true);
    exec_row["wall_seconds"] = seconds;
    out.rows.push_back(exec_row);
    out.rows.push_back(
      row(prefix + "create", t->create, reference.create, 0, false));
    out.rows.push_back(row(prefix + "diff", t->diff, reference.diff, 0, false));
  }
  out.series["fleet exec, in-process"] = inproc.exec.us;
  out.series["fleet exec, MCP over HTTP"] = over_mcp.exec.us;
  out.series["exec, one workspace at a time"] = reference.exec.us;
  return out;
}

} // namespace pyro::bench
