#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"

namespace pyro::cli {

/// The human form of an operation's JSON result (stdout without --json).
std::string render_human(const contract::operation& op,
                         const nlohmann::json& result,
                         const nlohmann::json& args);

} // namespace pyro::cli
