#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::cli {

/// What a command line asks for, parsed against the contract table and
/// nothing run yet.
struct parsed_command {
  /// The operation; nullptr when parsing ended the run (help, version, a
  /// usage error).
  const contract::operation* op = nullptr;
  /// Its parameters as JSON: typed, checked, defaults applied.
  nlohmann::json args;
  bool as_json = false;
  bool verbose = false;
  /// A usage error (`invalid_argument`), exiting like every other error.
  std::optional<error> failure;
  /// The exit status when help or the version was printed.
  int exit_status = 0;
};

/// Parses `argv` (the program name first). Help and version text are
/// printed here, since CLI11 formats them.
parsed_command parse_command_line(const std::vector<std::string>& argv);

} // namespace pyro::cli
