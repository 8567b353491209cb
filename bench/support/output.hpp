#pragma once

// pyro-bench's outputs: results.json for machines, results.md for people,
// and PNG charts drawn by gnuplot (latency distributions as CDFs, scaling
// curves as lines).

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pyro::bench {

/// Writes results.json and results.md into `dir`.
void write_tables(const std::filesystem::path& dir,
                  const std::vector<nlohmann::json>& rows);

/// Draws one PNG per chart into `dir`; returns the files written (empty
/// entries are skipped when gnuplot fails, which the caller reports).
std::vector<std::filesystem::path> draw_charts(const std::filesystem::path& dir,
                                               const nlohmann::json& series);

} // namespace pyro::bench
