#include "frontends/mcp/server_core.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "frontends/mcp/tool_schema.hpp"
#include "frontends/version.hpp"
#include "messages/json_text.hpp"

namespace pyro::mcp {

using contract::value_type;
using nlohmann::json;

const char* const supported_versions[3]
  = {"2025-11-25", "2025-06-18", "2025-03-26"};

namespace {

constexpr int parse_error_code = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;

// A member's string value, or "" when it is missing or not a string: the
// client's JSON decides the types, and a type error must not end a session.
std::string string_member(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_string() ? i->get<std::string>()
                                             : std::string{};
}

json result_reply(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

bool type_matches(const contract::param& p, const json& v) {
  switch (p.type) {
  case value_type::string:
  case value_type::command:
    return v.is_string();
  case value_type::integer:
    return v.is_number_integer();
  case value_type::boolean:
    return v.is_boolean();
  case value_type::string_list:
    return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& s) {
             return s.is_string();
           });
  case value_type::string_map:
    return v.is_object() && std::all_of(v.begin(), v.end(), [](const json& s) {
             return s.is_string();
           });
  case value_type::json:
    return v.is_object() || v.is_array() || v.is_null();
  }
  return false;
}

const char* type_name(value_type t) {
  switch (t) {
  case value_type::string:
  case value_type::command:
    return "a string";
  case value_type::integer:
    return "an integer";
  case value_type::boolean:
    return "a boolean";
  case value_type::string_list:
    return "an array of strings";
  case value_type::string_map:
    return "an object of strings";
  case value_type::json:
    return "an object, an array or null";
  }
  return "a value";
}

// The same for every session of a profile, so built and serialised once.
const std::string& tool_list_text(contract::profile profile) {
  static std::mutex mtx;
  static std::map<contract::profile, std::string> lists;
  std::lock_guard<std::mutex> guard{mtx};
  auto& text = lists[profile];
  if (text.empty()) {
    json tools = json::array();
    for (const auto* op : profile_tools(profile))
      tools.push_back(tool_descriptor(*op, profile));
    text = dump_json(json{{"tools", std::move(tools)}});
  }
  return text;
}

// A json parameter naming host paths inside its items (secrets): an array
// of objects of strings, so that each path can be found and checked.
bool items_are_string_objects(const json& v) {
  if (v.is_null())
    return true;
  return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& item) {
           return item.is_object()
                  && std::all_of(item.begin(), item.end(),
                                 [](const json& s) { return s.is_string(); });
         });
}

} // namespace

json rpc_error(const json& id, int code, const std::string& message,
               const json& data) {
  json err{{"code", code}, {"message", message}};
  if (!data.is_null())
    err["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

server_core::server_core(Pyro* sdk, server_options options)
  : sdk_(sdk), options_(std::move(options)) {
  // nop
}

json server_core::parse_error(const std::string& why) {
  return rpc_error(nullptr, parse_error_code, "Parse error: " + why);
}

json server_core::internal_error(const json& message, const std::string& what) {
  auto id = message.is_object() ? message.value("id", json()) : json();
  if (!id.is_string() && !id.is_number_integer())
    id = nullptr;
  return rpc_error(id, -32603, "Internal error: " + what);
}

std::string server_core::protocol_version() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return version_;
}

json server_core::initialize(const json& id, const json& params) {
  auto asked = string_member(params, "protocolVersion");
  auto known = std::find(std::begin(supported_versions),
                         std::end(supported_versions), asked)
               != std::end(supported_versions);
  // A version we do not speak gets our newest; the client decides.
  std::string chosen = known ? asked : supported_versions[0];
  {
    std::lock_guard<std::mutex> guard{mtx_};
    version_ = chosen;
  }
  auto caps = params.find("capabilities");
  client_roots_.set_supported(caps != params.end() && caps->is_object()
                              && caps->contains("roots")
                              && (*caps)["roots"].is_object());
  return result_reply(
    id,
    json{
      {"protocolVersion", chosen},
      {"capabilities",
       {{"tools", {{"listChanged", false}}}, {"logging", json::object()}}},
      {"serverInfo", {{"name", "pyro"}, {"version", std::string{version()}}}},
      {"instructions",
       "pyro runs commands in isolated Linux sandboxes. Create a "
       "workspace, exec in it, diff it against its baseline, export "
       "results, delete it when done."}});
}

namespace {

server_core::outcome replying(json message) {
  server_core::outcome out;
  out.action = server_core::outcome::reply;
  out.message = std::move(message);
  return out;
}

} // namespace

server_core::outcome server_core::handle(const json& msg) {
  if (!msg.is_object())
    return replying(rpc_error(nullptr, invalid_request,
                              "Invalid Request: expected a JSON-RPC object"));
  auto id = msg.contains("id") ? msg["id"] : json(nullptr);
  bool has_id = msg.contains("id");
  if (has_id && !(id.is_string() || id.is_number_integer()))
    return replying(
      rpc_error(nullptr, invalid_request,
                "Invalid Request: id must be a string or an integer"));
  if (auto v = msg.find("jsonrpc"); v == msg.end() || *v != "2.0")
    return replying(rpc_error(id, invalid_request,
                              "Invalid Request: jsonrpc must be \"2.0\""));
  auto method_it = msg.find("method");
  if (method_it == msg.end()) {
    // An answer to a request we sent (roots/list), or to one we never
    // sent: nothing to reply either way.
    if (msg.contains("result") || msg.contains("error")) {
      client_roots_.on_response(msg);
      return {};
    }
    return replying(
      rpc_error(id, invalid_request, "Invalid Request: no method"));
  }
  if (!method_it->is_string())
    return replying(rpc_error(id, invalid_request,
                              "Invalid Request: method must be a string"));
  auto method = method_it->get<std::string>();
  auto params = msg.value("params", json::object());
  if (!params.is_object())
    return has_id ? replying(
             rpc_error(id, invalid_params, "params must be an object"))
                  : outcome{};
  if (!has_id) { // notifications: initialized, cancelled (the session's)
    if (method == "notifications/roots/list_changed")
      client_roots_.invalidate();
    return {};
  }
  if (method == "initialize")
    return replying(initialize(id, params));
  if (method == "ping")
    return replying(result_reply(id, json::object()));
  if (method == "logging/setLevel") {
    static const std::set<std::string> levels{"debug",   "info",     "notice",
                                              "warning", "error",    "critical",
                                              "alert",   "emergency"};
    auto level = string_member(params, "level");
    if (levels.count(level) == 0)
      return replying(
        rpc_error(id, invalid_params,
                  "level must be one of debug, info, notice, warning, "
                  "error, critical, alert, emergency"));
    std::lock_guard<std::mutex> guard{mtx_};
    log_level_ = level;
    return replying(result_reply(id, json::object()));
  }
  if (method == "tools/list") {
    // {"id","jsonrpc","result"}: the key order dump_json writes.
    outcome out;
    out.action = outcome::reply;
    // Built in one buffer: the list is some 50 KiB, and a thousand clients
    // may ask at once.
    const auto& list = tool_list_text(options_.profile);
    auto key = dump_json(id);
    out.text.reserve(list.size() + key.size() + 40);
    out.text.append("{\"id\":").append(key).append(",\"jsonrpc\":\"2.0\",");
    out.text.append("\"result\":").append(list).append("}");
    return out;
  }
  if (method == "tools/call") {
    auto invalid = validate_call(msg);
    if (!invalid.is_null())
      return replying(invalid);
    outcome call;
    call.action = outcome::tool_call;
    return call;
  }
  return replying(
    rpc_error(id, method_not_found, "Method not found: " + method));
}

json server_core::validate_call(const json& msg) {
  const auto& id = msg["id"];
  auto params = msg.value("params", json::object());
  auto name = params.value("name", json());
  if (!name.is_string())
    return rpc_error(id, invalid_params, "tools/call needs a tool name");
  const auto* op = find_profile_tool(options_.profile, name.get<std::string>());
  if (op == nullptr)
    return rpc_error(id, invalid_params,
                     "Unknown tool: " + name.get<std::string>(),
                     json{{"tool", name}});
  auto args = params.value("arguments", json::object());
  if (!args.is_object())
    return rpc_error(id, invalid_params, "arguments must be an object");
  auto allowed = tool_params(*op, options_.profile);
  for (const auto& item : args.items()) {
    const auto& key = item.key();
    const auto& value = item.value();
    auto i
      = std::find_if(allowed.begin(), allowed.end(),
                     [&](const contract::param* p) { return p->name == key; });
    if (i == allowed.end())
      return rpc_error(id, invalid_params,
                       "Invalid arguments for " + std::string{op->tool}
                         + ": unknown argument '" + key + "'");
    if (!type_matches(**i, value))
      return rpc_error(id, invalid_params,
                       "Invalid arguments for " + std::string{op->tool} + ": '"
                         + key + "' must be " + type_name((*i)->type));
    if (!(*i)->host_path_member.empty() && !items_are_string_objects(value))
      return rpc_error(id, invalid_params,
                       "Invalid arguments for " + std::string{op->tool} + ": '"
                         + key + "' must be an array of objects of strings");
  }
  for (const auto* p : allowed)
    if (p->required && !args.contains(std::string{p->name}))
      return rpc_error(id, invalid_params,
                       "Invalid arguments for " + std::string{op->tool} + ": '"
                         + std::string{p->name} + "' is required");
  return nullptr;
}

} // namespace pyro::mcp
