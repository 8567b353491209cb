// pyro-bench: every benchmark behind one entry point.
//
//   pyro-bench [--quick] [--out DIR] [WORKLOAD ...]
//
// Workloads: fleet, idle, exec (agent round trip), create (sandbox
// create-to-first-exec), diff, mcp (MCP sessions), vm-boot. None named:
// all of them. Each measures its reference in the same run and prints
// ratios; results go to DIR/results.json, DIR/results.md and PNG charts.
// --quick shrinks every workload so the whole run takes under two minutes
// (the test suite runs it as a smoke test of the outputs, not of timings).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "bench/support/latency.hpp"
#include "bench/support/output.hpp"
#include "bench/workloads/workloads.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace pyro::bench;

namespace {

const std::vector<std::string> all_workloads{
  "exec", "create", "diff", "fleet", "idle", "mcp", "vm-boot"};

workload_result run(const std::string& name, const run_options& o) {
  if (name == "fleet")
    return run_fleet(o);
  if (name == "idle")
    return run_idle(o);
  if (name == "exec")
    return run_child_benchmark(name,
                               {"agent_exec_bench", o.quick ? "300" : "3000"});
  if (name == "create")
    return run_child_benchmark(name,
                               {"sandbox_create_bench", o.quick ? "10" : "60"});
  if (name == "diff")
    return run_child_benchmark(
      name, {"diff_bench", o.quick ? "2" : "5", o.quick ? "1000" : "10000"});
  if (name == "mcp")
    return run_child_benchmark(name,
                               {"mcp_fleet_bench", o.quick ? "5" : "100",
                                o.quick ? "3" : "20", o.quick ? "20" : "1000"});
  return run_child_benchmark(name, {"vm_boot_bench", o.quick ? "1" : "6"});
}

} // namespace

int main(int argc, char** argv) {
  run_options options;
  fs::path out_dir = "bench-results";
  std::vector<std::string> chosen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--out" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: pyro-bench [--quick] [--out DIR] [WORKLOAD ...]\n"
                  "workloads: exec create diff fleet idle mcp vm-boot\n"
                  "example: pyro-bench --quick --out /tmp/bench\n");
      return 0;
    } else if (std::find(all_workloads.begin(), all_workloads.end(), arg)
               != all_workloads.end()) {
      chosen.push_back(arg);
    } else {
      std::fprintf(stderr, "pyro-bench: unknown argument '%s' (see --help)\n",
                   arg.c_str());
      return 2;
    }
  }
  if (chosen.empty())
    chosen = all_workloads;
  fs::create_directories(out_dir);
  std::vector<json> rows;
  json series = json::object();
  int errors = 0;
  for (const auto& name : chosen) {
    std::fprintf(stderr, "[bench] workload=%s%s\n", name.c_str(),
                 options.quick ? " quick" : "");
    auto result = run(name, options);
    for (auto& row : result.rows) {
      errors += row.value("errors", 0);
      rows.push_back(std::move(row));
    }
    for (auto& [key, value] : result.series.items())
      series[key] = value;
  }
  write_tables(out_dir, rows);
  auto charts = draw_charts(out_dir, series);
  std::printf("%s",
              [&] {
                std::ifstream in{out_dir / "results.md"};
                return std::string{std::istreambuf_iterator<char>{in}, {}};
              }()
                .c_str());
  std::printf("\nwrote %s/results.json, results.md and %zu chart(s)\n",
              out_dir.c_str(), charts.size());
  return errors == 0 ? 0 : 1;
}
