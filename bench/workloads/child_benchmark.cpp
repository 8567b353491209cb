#include <cstdio>
#include <filesystem>
#include <sstream>

#include "bench/workloads/workloads.hpp"

namespace pyro::bench {

using nlohmann::json;

workload_result run_child_benchmark(const std::string& workload,
                                    const std::vector<std::string>& argv) {
  auto dir = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  std::string command = (dir / argv[0]).string();
  for (size_t i = 1; i < argv.size(); ++i)
    command += " " + argv[i];
  workload_result out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return out;
  char buf[8192];
  std::string text;
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr)
    text += buf;
  int status = ::pclose(pipe);
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    std::fputs((line + "\n").c_str(), stderr); // the child's own table
    if (line.rfind("json: ", 0) != 0)
      continue;
    auto row = json::parse(line.substr(6), nullptr, false);
    if (!row.is_object())
      continue;
    row["workload"] = workload;
    out.rows.push_back(std::move(row));
  }
  if (status != 0 || out.rows.empty())
    out.rows.push_back(
      {{"workload", workload},
       {"measurement", argv[0] + " failed"},
       {"errors", 1},
       {"output", text.substr(text.size() > 2000 ? text.size() - 2000 : 0)}});
  return out;
}

} // namespace pyro::bench
