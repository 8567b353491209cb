#pragma once

#include <map>
#include <string>
#include <vector>

namespace pyro::test {

struct process_output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs a program to completion with extra environment variables and
/// captures stdout and stderr separately.
process_output run_process(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env = {});

} // namespace pyro::test
