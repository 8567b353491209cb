#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "frontends/sdk/pyro.hpp"

namespace pyro {

/// An argument only frontends add (never in a schema): the tag under which
/// an exec can be cancelled (`Pyro::cancel_exec`).
inline constexpr const char* cancel_tag_key = "_cancel_tag";

/// Calls the SDK method behind a contract operation with JSON arguments
/// (already defaulted and type-checked by the caller) and returns its JSON
/// result. Shared by the CLI and the MCP server so both behave alike; an
/// operation this build cannot serve is `unavailable`, naming what it
/// needs.
result<nlohmann::json> dispatch(Pyro& sdk, const contract::operation& op,
                                const nlohmann::json& args,
                                const progress_fn& progress = {});

/// Whether `dispatch` has a handler for the operation.
[[nodiscard]] bool dispatchable(const contract::operation& op);

} // namespace pyro
