#pragma once

// How a command's outcome reaches the terminal, the same whether the call
// was served by this process or by the resident server.

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::cli {

/// Prints the error (JSON on stdout with --json, else text on stderr);
/// returns its exit status from the error table.
int report_error(const error& err, bool as_json);

/// Prints a call's result or error; returns the process exit status.
int finish(const contract::operation& op, const nlohmann::json& args,
           const result<nlohmann::json>& out, bool as_json);

/// Progress lines go to stderr, so stdout stays the result alone.
void print_progress(const std::string& line);

/// Whether a call may go to a running server: every operation of the SDK
/// but `mcp serve` and `demo` (processes of their own), unless
/// PYRO_SERVER=off.
[[nodiscard]] bool forwardable(const contract::operation& op);

} // namespace pyro::cli
