#pragma once

// The named workloads of `pyro-bench`. Each returns result rows (one JSON
// object per measurement, each beside the reference measured in the same
// run) and, for the charts, raw series.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pyro::bench {

struct workload_result {
  /// Rows: workload, measurement, n, p50_us, p95_us, p99_us, reference,
  /// reference_p50_us, ratio_p50, errors, target, met, machine.
  std::vector<nlohmann::json> rows;
  /// Named series for charts: latency samples (us) or (x, y) points.
  nlohmann::json series = nlohmann::json::object();
};

struct run_options {
  bool quick = false;
};

/// N workspaces created at concurrency C, each running M execs and one
/// diff, then deleted: in-process, and through MCP over HTTP.
workload_result run_fleet(const run_options& options);

/// N = 1, 10, 100, 1000 idle workspaces held at once: host memory per
/// workspace and create time as N grows.
workload_result run_idle(const run_options& options);

/// One of the per-feature benchmark executables beside this one, run as a
/// child; its `json:` lines become rows.
workload_result run_child_benchmark(const std::string& workload,
                                    const std::vector<std::string>& argv);

} // namespace pyro::bench
