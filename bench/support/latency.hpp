#pragma once

// Shared by every benchmark: timing samples, percentiles, and the one
// output shape (a table for people, a JSON line for machines) in which each
// measurement sits beside the reference measured in the same run.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pyro::bench {

/// Latency samples in microseconds.
struct samples {
  std::string name;
  std::vector<double> us;

  [[nodiscard]] double percentile(double p) const;
  [[nodiscard]] double p50() const {
    return percentile(50);
  }
  [[nodiscard]] double p95() const {
    return percentile(95);
  }
  [[nodiscard]] double p99() const {
    return percentile(99);
  }
};

/// Runs `body` `warmup` times unmeasured, then `runs` times measured. A body
/// returning false aborts the series (the samples so far are kept).
samples measure(std::string name, int warmup, int runs,
                const std::function<bool()>& body);

/// The same, running `before` untimed ahead of each run.
samples measure(std::string name, int warmup, int runs,
                const std::function<void()>& before,
                const std::function<bool()>& body);

/// One row of an interleaved series: `before` runs untimed ahead of each
/// timed `body`; a body returning false ends the row (its samples so far
/// are kept).
struct series {
  std::string name;
  std::function<bool()> body;
  std::function<void()> before = {};
};

/// Takes one sample of every row in turn, `runs` rounds (after `warmup`
/// unmeasured ones), so that a machine whose speed drifts during the
/// measurement weighs on every row alike.
std::vector<samples> measure_interleaved(const std::vector<series>& rows,
                                         int warmup, int runs);

/// "Linux 6.1 x86_64, 2 cores, <cpu model>": absolute figures are labelled
/// with the machine they came from.
std::string machine_label();

/// Prints a table of p50/p95/p99 with each row's p50 ratio to `reference`,
/// then one JSON object per row on lines starting with "json: ".
void report(const std::string& title, const std::vector<samples>& rows,
            const samples& reference);

} // namespace pyro::bench
