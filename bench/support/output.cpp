#include "bench/support/output.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace pyro::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string number(const json& v, double scale = 1, int digits = 1) {
  if (!v.is_number())
    return "";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v.get<double>() / scale;
  return out.str();
}

std::string slug(const std::string& name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

bool gnuplot(const fs::path& script) {
  auto command = "gnuplot " + script.string() + " 2>/dev/null";
  return std::system(command.c_str()) == 0;
}

} // namespace

void write_tables(const fs::path& dir, const std::vector<json>& rows) {
  std::ofstream{dir / "results.json"} << json(rows).dump(2) << '\n';
  std::ofstream md{dir / "results.md"};
  md << "| workload | measurement | n | p50 (ms) | p99 (ms) | value | "
        "reference | ref p50 (ms) | p50/ref | errors | target | met |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    auto met = r.value("met", json());
    md << "| " << r.value("workload", "") << " | " << r.value("measurement", "")
       << " | " << number(r.value("n", json()), 1, 0) << " | "
       << number(r.value("p50_us", json()), 1000, 2) << " | "
       << number(r.value("p99_us", json()), 1000, 2) << " | "
       << (r.contains("value_kib") ? number(r["value_kib"]) + " KiB" : "")
       << " | " << r.value("reference", "") << " | "
       << number(r.value("reference_p50_us", json()), 1000, 2) << " | "
       << number(r.value("ratio_p50", json()), 1, 2) << " | "
       << number(r.value("errors", json(0)), 1, 0) << " | "
       << r.value("target", "") << " | "
       << (met.is_boolean() ? (met.get<bool>() ? "yes" : "no") : "") << " |\n";
  }
  if (!rows.empty())
    md << "\nmachine: " << rows.front().value("machine", "") << '\n';
}

std::vector<fs::path> draw_charts(const fs::path& dir, const json& series) {
  std::vector<fs::path> written;
  // Latency samples: one CDF chart holding every distribution.
  std::string plots;
  for (const auto& [name, values] : series.items()) {
    if (values.empty() || !values[0].is_number())
      continue;
    auto data = dir / (slug(name) + ".dat");
    std::vector<double> sorted = values.get<std::vector<double>>();
    std::sort(sorted.begin(), sorted.end());
    std::ofstream out{data};
    for (size_t i = 0; i < sorted.size(); ++i)
      out << sorted[i] / 1000 << ' '
          << 100.0 * double(i + 1) / double(sorted.size()) << '\n';
    plots += (plots.empty() ? "" : ", ") + std::string{"'"} + data.string()
             + "' using 1:2 with lines title '" + name + "'";
  }
  if (!plots.empty()) {
    auto png = dir / "latency-cdf.png";
    auto script = dir / "latency-cdf.gp";
    std::ofstream{script} << "set terminal pngcairo size 900,540\n"
                          << "set output '" << png.string() << "'\n"
                          << "set xlabel 'latency (ms)'\nset ylabel 'percent'\n"
                          << "set logscale x\nset key bottom right\nset grid\n"
                          << "plot " << plots << '\n';
    if (gnuplot(script))
      written.push_back(png);
  }
  // (x, y) points: one line chart each.
  for (const auto& [name, points] : series.items()) {
    if (points.empty() || !points[0].is_array())
      continue;
    auto base = slug(name);
    auto data = dir / (base + ".dat");
    std::ofstream out{data};
    for (const auto& p : points)
      out << p[0].get<double>() << ' ' << p[1].get<double>() << '\n';
    out.close();
    auto png = dir / (base + ".png");
    auto script = dir / (base + ".gp");
    std::ofstream{script} << "set terminal pngcairo size 900,540\n"
                          << "set output '" << png.string() << "'\n"
                          << "set xlabel 'workspaces held'\nset ylabel '"
                          << name << "'\nset logscale x\nset grid\n"
                          << "plot '" << data.string()
                          << "' using 1:2 with linespoints title '" << name
                          << "'\n";
    if (gnuplot(script))
      written.push_back(png);
  }
  return written;
}

} // namespace pyro::bench
