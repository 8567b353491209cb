#pragma once

// MCP tool descriptors derived from the one contract table: input schemas
// (JSON Schema 2020-12, closed, a description per property), output
// schemas, annotations, and which tools each profile exposes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"

namespace pyro::mcp {

/// vm-run, workspace-core or workspace-full.
std::optional<contract::profile> parse_profile(std::string_view name);

/// The operations a profile exposes as tools, in contract order.
std::vector<const contract::operation*> profile_tools(contract::profile p);

/// The profile's tool of that name, or nullptr.
const contract::operation* find_profile_tool(contract::profile p,
                                             std::string_view name);

/// The profile's view of an operation's parameters: what MCP clients send.
/// workspace-core leaves out secrets, network policy and other full-only
/// parameters; CLI-only parameters never appear, nor do the operator's
/// (backend, host-compat), which a server takes from its own command line.
std::vector<const contract::param*> tool_params(const contract::operation& op,
                                                contract::profile p);

/// One entry of tools/list.
nlohmann::json tool_descriptor(const contract::operation& op,
                               contract::profile p);

} // namespace pyro::mcp
