#include "frontends/mcp/tool_schema.hpp"

namespace pyro::mcp {

using contract::value_type;
using nlohmann::json;

namespace {

json type_schema(const contract::param& p) {
  switch (p.type) {
  case value_type::string:
  case value_type::command:
    return {{"type", "string"}};
  case value_type::integer:
    return {{"type", "integer"}};
  case value_type::boolean:
    return {{"type", "boolean"}};
  case value_type::string_list:
    return {{"type", "array"}, {"items", {{"type", "string"}}}};
  case value_type::string_map:
    return {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
  case value_type::json:
    return {{"type", json::array({"object", "array", "null"})}};
  }
  return json::object();
}

// Every tool returns one JSON object; its fields are documented per tool
// in docs/mcp.md and stay open here so new fields never break clients.
json output_schema() {
  return {{"type", "object"}, {"additionalProperties", true}};
}

} // namespace

std::optional<contract::profile> parse_profile(std::string_view name) {
  if (name == "vm-run")
    return contract::vm_run_profile;
  if (name == "workspace-core")
    return contract::workspace_core_profile;
  if (name == "workspace-full")
    return contract::workspace_full_profile;
  return std::nullopt;
}

std::vector<const contract::operation*> profile_tools(contract::profile p) {
  std::vector<const contract::operation*> out;
  for (const auto& op : contract::operations())
    if (!op.tool.empty() && (op.profiles & p) != 0)
      out.push_back(&op);
  return out;
}

const contract::operation* find_profile_tool(contract::profile p,
                                             std::string_view name) {
  for (const auto* op : profile_tools(p))
    if (op->tool == name)
      return op;
  return nullptr;
}

std::vector<const contract::param*> tool_params(const contract::operation& op,
                                                contract::profile p) {
  std::vector<const contract::param*> out;
  for (const auto& param : op.params) {
    if (param.cli_only || param.operator_only)
      continue;
    if (param.full_only && p != contract::workspace_full_profile)
      continue;
    out.push_back(&param);
  }
  return out;
}

json tool_descriptor(const contract::operation& op, contract::profile p) {
  json properties = json::object();
  json required = json::array();
  for (const auto* param : tool_params(op, p)) {
    auto schema = type_schema(*param);
    schema["description"] = std::string{param->description};
    if (!param->default_json.empty())
      schema["default"] = json::parse(param->default_json);
    properties[std::string{param->name}] = std::move(schema);
    if (param->required)
      required.push_back(std::string{param->name});
  }
  json input{{"type", "object"},
             {"properties", std::move(properties)},
             {"additionalProperties", false}};
  if (!required.empty())
    input["required"] = std::move(required);
  const auto& h = op.annotations;
  return json{{"name", std::string{op.tool}},
              {"description", std::string{op.summary}},
              {"inputSchema", std::move(input)},
              {"outputSchema", output_schema()},
              {"annotations",
               {{"readOnlyHint", h.read_only},
                {"destructiveHint", h.destructive},
                {"idempotentHint", h.idempotent},
                {"openWorldHint", h.open_world}}}};
}

} // namespace pyro::mcp
