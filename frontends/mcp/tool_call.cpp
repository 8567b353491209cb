// server_core's calls into the SDK: a validated tools/call made whole (the
// profile's defaults, the operator's decisions), its host paths confined to
// the roots, then dispatched like the CLI would; and the clean-up of a
// cancelled call. Kept apart from the protocol (server_core.cpp) so that
// tests and fuzzers of the protocol need no runtime.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "frontends/mcp/server_core.hpp"
#include "frontends/mcp/tool_schema.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "messages/json_text.hpp"

namespace pyro::mcp {

using contract::host_access;
using nlohmann::json;

namespace {

// How long a call waits for the client to list its roots.
constexpr auto roots_timeout = std::chrono::seconds{10};

json result_reply(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json error_result(const json& id, const error& err) {
  auto text = std::string{to_string(err.code)} + ": " + err.message;
  if (!err.hint.empty())
    text += " (hint: " + err.hint + ")";
  return result_reply(id,
                      json{{"content", {{{"type", "text"}, {"text", text}}}},
                           {"structuredContent", to_json(err)},
                           {"isError", true}});
}

// Errors written for the CLI tell its user to pass --allow-host-compat or
// --backend; the model behind an MCP client cannot, and must not be taught
// to ask for it. It learns who decides instead.
error for_the_model(error err) {
  auto mentions = [](const std::string& s) {
    return s.find("host-compat") != std::string::npos
           || s.find("host_compat") != std::string::npos;
  };
  bool in_message = mentions(err.message);
  if (in_message)
    err.message = "no backend this server may use can run it";
  if (in_message || mentions(err.hint))
    err.hint = "the backend is chosen by the operator who started this "
               "server; a tool call cannot change it";
  return err;
}

// The operator's values for the operator-only parameters an operation
// has; the rest (and whatever a client sent) is removed.
void apply_operator_choices(const contract::operation& op,
                            const server_options& options, json& args) {
  for (const auto& p : op.params) {
    if (!p.operator_only)
      continue;
    std::string name{p.name};
    args.erase(name);
    if (name == "backend" && !options.backend.empty())
      args[name] = options.backend;
    else if (name == "allow_host_compat")
      args[name] = options.allow_host_compat;
  }
}

// The strongest access the call's host paths need (none when it names
// none).
host_access host_access_of(const std::vector<const contract::param*>& params,
                           const json& args) {
  auto strongest = host_access::none;
  for (const auto* p : params) {
    auto i = args.find(std::string{p->name});
    if (p->host_path == host_access::none || i == args.end() || i->is_null())
      continue;
    if (!p->host_path_member.empty()) {
      bool any = std::any_of(i->begin(), i->end(), [&](const json& item) {
        return item.contains(std::string{p->host_path_member});
      });
      if (!any)
        continue;
    }
    if (p->host_path == host_access::write)
      return host_access::write;
    strongest = host_access::read;
  }
  return strongest;
}

// Replaces every host path in `args` by its resolved form, or says why one
// is refused.
std::optional<error> confine(const std::vector<const contract::param*>& params,
                             const host_roots& roots, json& args) {
  for (const auto* p : params) {
    std::string name{p->name};
    auto i = args.find(name);
    if (p->host_path == host_access::none || i == args.end() || i->is_null())
      continue;
    if (p->host_path_member.empty()) {
      auto resolved
        = confine_host_path(name, i->get<std::string>(), p->host_path, roots);
      if (!resolved)
        return resolved.err();
      *i = *resolved;
      continue;
    }
    std::string member{p->host_path_member};
    for (auto& item : *i) {
      auto m = item.find(member);
      if (m == item.end())
        continue;
      auto resolved = confine_host_path(
        name + "[]." + member, m->get<std::string>(), p->host_path, roots);
      if (!resolved)
        return resolved.err();
      *m = *resolved;
    }
  }
  return std::nullopt;
}

} // namespace

host_roots server_core::roots_for_call(const emit_fn& emit, bool can_ask) {
  if (!options_.operator_roots.empty())
    return {options_.operator_roots, "given with --host-root"};
  if (auto listed = client_roots_.get(emit, can_ask, roots_timeout))
    return *listed;
  return options_.fallback_roots;
}

void server_core::cancel_call(const json& msg, const std::string& cancel_tag) {
  const auto& params = msg["params"];
  if (params.value("name", std::string{}) != "workspace_exec")
    return;
  auto args = params.value("arguments", json::object());
  auto id = args.value("workspace_id", std::string{});
  // The exec may not have reached the agent yet: try a few times.
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = sdk_->cancel_exec(id, cancel_tag);
    if (!r || r->value("cancelled", false))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

json server_core::call_tool(const json& msg, const emit_fn& emit, bool can_ask,
                            const std::string& cancel_tag) {
  const auto& id = msg["id"];
  const auto& params = msg["params"];
  const auto* op
    = find_profile_tool(options_.profile, params["name"].get<std::string>());
  auto args = params.value("arguments", json::object());
  auto visible = tool_params(*op, options_.profile);
  for (const auto* p : visible)
    if (!args.contains(std::string{p->name}) && !p->default_json.empty())
      args[std::string{p->name}] = json::parse(p->default_json);
  apply_operator_choices(*op, options_, args);
  if (!cancel_tag.empty())
    args[cancel_tag_key] = cancel_tag;
  progress_fn progress;
  json token;
  if (auto meta = params.find("_meta");
      meta != params.end() && meta->is_object())
    token = meta->value("progressToken", json());
  if (!token.is_null() && emit) {
    auto count = std::make_shared<std::atomic<int>>(0);
    progress = [emit, token, count](const std::string& line) {
      emit(dump_json(json{{"jsonrpc", "2.0"},
                          {"method", "notifications/progress"},
                          {"params",
                           {{"progressToken", token},
                            {"progress", ++*count},
                            {"message", line}}}}));
    };
  }
  // Host paths are checked and used under one lock (host_roots.hpp): a
  // concurrent export cannot swap a checked directory for a symlink.
  auto access = host_access_of(visible, args);
  std::shared_lock<std::shared_mutex> reading{host_path_lock(),
                                              std::defer_lock};
  std::unique_lock<std::shared_mutex> writing{host_path_lock(),
                                              std::defer_lock};
  if (access != host_access::none) {
    auto roots = roots_for_call(emit, can_ask);
    if (access == host_access::write)
      writing.lock();
    else
      reading.lock();
    if (auto refused = confine(visible, roots, args))
      return error_result(id, *refused);
  }
  auto out = dispatch(*sdk_, *op, args, progress);
  if (!out)
    return error_result(id, for_the_model(out.err()));
  auto structured = out->is_object() ? *out : json{{"result", *out}};
  return result_reply(
    id,
    json{{"content", {{{"type", "text"}, {"text", dump_json(structured, 2)}}}},
         {"structuredContent", structured},
         {"isError", false}});
}

} // namespace pyro::mcp
