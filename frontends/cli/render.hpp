#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::cli {

/// The human form of an operation's JSON result (stdout without --json).
std::string render_human(const contract::operation& op,
                         const nlohmann::json& result,
                         const nlohmann::json& args);

/// An error for people (stderr without --json): its message and hint, with
/// control characters escaped, since both may quote a path or a name a
/// workload or a client chose.
std::string render_error(const error& err);

/// A progress line for stderr, escaped like every other field.
std::string render_progress(const std::string& line);

/// The exit status of a successful call in human mode: `workspace exec` and
/// `run` pass on the command's own status (124 after a timeout, like
/// timeout(1)); everything else exits 0.
int human_exit_status(const contract::operation& op,
                      const nlohmann::json& result);

} // namespace pyro::cli
