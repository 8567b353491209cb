#include "bench/support/latency.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include <sys/utsname.h>

namespace pyro::bench {

double samples::percentile(double p) const {
  if (us.empty())
    return 0;
  auto sorted = us;
  std::sort(sorted.begin(), sorted.end());
  auto rank = static_cast<size_t>(p / 100.0 * (sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

samples measure(std::string name, int warmup, int runs,
                const std::function<bool()>& body) {
  return measure(std::move(name), warmup, runs, {}, body);
}

samples measure(std::string name, int warmup, int runs,
                const std::function<void()>& before,
                const std::function<bool()>& body) {
  return measure_interleaved({{std::move(name), body, before}}, warmup, runs)
    .front();
}

std::vector<samples> measure_interleaved(const std::vector<series>& rows,
                                         int warmup, int runs) {
  std::vector<samples> out;
  std::vector<bool> failed(rows.size(), false);
  for (const auto& row : rows) {
    out.push_back({row.name, {}});
    out.back().us.reserve(static_cast<size_t>(runs));
  }
  for (int round = 0; round < warmup + runs; ++round)
    for (size_t i = 0; i < rows.size(); ++i) {
      if (failed[i])
        continue;
      if (rows[i].before)
        rows[i].before();
      auto start = std::chrono::steady_clock::now();
      bool ok = rows[i].body();
      auto end = std::chrono::steady_clock::now();
      if (!ok)
        failed[i] = true;
      else if (round >= warmup)
        out[i].us.push_back(
          std::chrono::duration<double, std::micro>(end - start).count());
    }
  return out;
}

std::string machine_label() {
  utsname u{};
  ::uname(&u);
  std::string cpu = "unknown cpu";
  std::ifstream in{"/proc/cpuinfo"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return std::string{u.sysname} + " " + u.release + " " + u.machine + ", "
         + std::to_string(std::thread::hardware_concurrency()) + " cores, "
         + cpu;
}

void report(const std::string& title, const std::vector<samples>& rows,
            const samples& reference) {
  std::printf("\n%s\nmachine: %s\n", title.c_str(), machine_label().c_str());
  std::printf("%-34s %6s %10s %10s %10s %8s\n", "measurement", "n", "p50 (us)",
              "p95 (us)", "p99 (us)", "p50/ref");
  double ref = reference.p50();
  for (const auto& r : rows) {
    double ratio = ref > 0 ? r.p50() / ref : 0;
    std::printf("%-34s %6zu %10.1f %10.1f %10.1f %8.2f\n", r.name.c_str(),
                r.us.size(), r.p50(), r.p95(), r.p99(), ratio);
  }
  for (const auto& r : rows) {
    nlohmann::json j{{"benchmark", title},
                     {"measurement", r.name},
                     {"n", r.us.size()},
                     {"p50_us", r.p50()},
                     {"p95_us", r.p95()},
                     {"p99_us", r.p99()},
                     {"reference", reference.name},
                     {"reference_p50_us", ref},
                     {"ratio_p50", ref > 0 ? r.p50() / ref : 0},
                     {"machine", machine_label()}};
    std::printf("json: %s\n", j.dump().c_str());
  }
  std::fflush(stdout);
}

} // namespace pyro::bench
