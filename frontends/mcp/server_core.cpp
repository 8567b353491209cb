#include "frontends/mcp/server_core.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "frontends/mcp/tool_schema.hpp"
#include "frontends/sdk/dispatch.hpp"
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

const contract::operation* find_tool(contract::profile profile,
                                     const std::string& name) {
  for (const auto* op : profile_tools(profile))
    if (op->tool == name)
      return op;
  return nullptr;
}

} // namespace

json rpc_error(const json& id, int code, const std::string& message,
               const json& data) {
  json err{{"code", code}, {"message", message}};
  if (!data.is_null())
    err["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

server_core::server_core(Pyro& sdk, contract::profile profile)
  : sdk_(sdk), profile_(profile) {
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
    // A response to something we never ask: nothing to do.
    if (msg.contains("result") || msg.contains("error"))
      return {};
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
  if (!has_id) // notifications: initialized, cancelled (the session's)
    return {};
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
    const auto& list = tool_list_text(profile_);
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
  const auto* op = find_tool(profile_, name.get<std::string>());
  if (op == nullptr)
    return rpc_error(id, invalid_params,
                     "Unknown tool: " + name.get<std::string>(),
                     json{{"tool", name}});
  auto args = params.value("arguments", json::object());
  if (!args.is_object())
    return rpc_error(id, invalid_params, "arguments must be an object");
  auto allowed = tool_params(*op, profile_);
  for (const auto& [key, value] : args.items()) {
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
  }
  for (const auto* p : allowed)
    if (p->required && !args.contains(std::string{p->name}))
      return rpc_error(id, invalid_params,
                       "Invalid arguments for " + std::string{op->tool} + ": '"
                         + std::string{p->name} + "' is required");
  return nullptr;
}

void server_core::cancel_call(const json& msg, const std::string& cancel_tag) {
  const auto& params = msg["params"];
  if (params.value("name", std::string{}) != "workspace_exec")
    return;
  auto args = params.value("arguments", json::object());
  auto id = args.value("workspace_id", std::string{});
  // The exec may not have reached the agent yet: try a few times.
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = sdk_.cancel_exec(id, cancel_tag);
    if (!r || r->value("cancelled", false))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

json server_core::call_tool(const json& msg, const send_fn& notify,
                            const std::string& cancel_tag) {
  const auto& id = msg["id"];
  const auto& params = msg["params"];
  const auto* op = find_tool(profile_, params["name"].get<std::string>());
  auto args = params.value("arguments", json::object());
  for (const auto* p : tool_params(*op, profile_))
    if (!args.contains(std::string{p->name}) && !p->default_json.empty())
      args[std::string{p->name}] = json::parse(p->default_json);
  if (!cancel_tag.empty())
    args[cancel_tag_key] = cancel_tag;
  progress_fn progress;
  json token;
  if (auto meta = params.find("_meta");
      meta != params.end() && meta->is_object())
    token = meta->value("progressToken", json());
  if (!token.is_null() && notify) {
    auto count = std::make_shared<std::atomic<int>>(0);
    progress = [notify, token, count](const std::string& line) {
      notify(json{{"jsonrpc", "2.0"},
                  {"method", "notifications/progress"},
                  {"params",
                   {{"progressToken", token},
                    {"progress", ++*count},
                    {"message", line}}}});
    };
  }
  auto out = dispatch(sdk_, *op, args, progress);
  if (!out) {
    const auto& err = out.err();
    auto text = std::string{to_string(err.code)} + ": " + err.message;
    if (!err.hint.empty())
      text += " (hint: " + err.hint + ")";
    return result_reply(id,
                        json{{"content", {{{"type", "text"}, {"text", text}}}},
                             {"structuredContent", to_json(err)},
                             {"isError", true}});
  }
  auto structured = out->is_object() ? *out : json{{"result", *out}};
  return result_reply(
    id,
    json{{"content", {{{"type", "text"}, {"text", dump_json(structured, 2)}}}},
         {"structuredContent", structured},
         {"isError", false}});
}

} // namespace pyro::mcp
