#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"

namespace pyro::cli {

/// The human form of an operation's JSON result (stdout without --json).
std::string render_human(const contract::operation& op,
                         const nlohmann::json& result,
                         const nlohmann::json& args);

/// The exit status of a successful call in human mode: `workspace exec` and
/// `run` pass on the command's own status (124 after a timeout, like
/// timeout(1)); everything else exits 0.
int human_exit_status(const contract::operation& op,
                      const nlohmann::json& result);

} // namespace pyro::cli
