// The MCP protocol layer without a runtime (server_core with no SDK): what
// a hostile client may send, and what it can never choose. No call here
// reaches dispatch: each is refused before it.

#include <filesystem>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "frontends/mcp/server_core.hpp"
#include "frontends/mcp/tool_schema.hpp"
#include "temp_dir.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const contract::profile all_profiles[]
  = {contract::vm_run_profile, contract::workspace_core_profile,
     contract::workspace_full_profile};

json initialize(mcp::server_core& core, json capabilities = json::object()) {
  return core
    .handle({{"jsonrpc", "2.0"},
             {"id", 0},
             {"method", "initialize"},
             {"params",
              {{"protocolVersion", "2025-11-25"},
               {"capabilities", std::move(capabilities)},
               {"clientInfo", {{"name", "test"}, {"version", "0"}}}}}})
    .message;
}

json tool_call(const std::string& name, json args, int id = 1) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"method", "tools/call"},
          {"params", {{"name", name}, {"arguments", std::move(args)}}}};
}

// A workspace_export request refused by the roots before dispatch.
json export_to(const fs::path& out, int id = 1) {
  return tool_call("workspace_export",
                   {{"workspace_id", "ws-x"},
                    {"path", "notes.txt"},
                    {"output_path", out.string()}},
                   id);
}

std::string refusal_text(const json& reply) {
  REQUIRE(reply["result"]["isError"] == true);
  return reply["result"]["content"][0]["text"].get<std::string>();
}

} // namespace

TEST_CASE("no profile's tools take the backend or host-compat", "[mcp][core]") {
  for (auto profile : all_profiles) {
    for (const auto* op : mcp::profile_tools(profile)) {
      auto tool = mcp::tool_descriptor(*op, profile);
      INFO(tool["name"]);
      const auto& props = tool["inputSchema"]["properties"];
      CHECK_FALSE(props.contains("backend"));
      CHECK_FALSE(props.contains("allow_host_compat"));
      CHECK(tool["inputSchema"]["additionalProperties"] == false);
    }
  }
}

TEST_CASE("a tool call naming the backend or host-compat is refused in every "
          "profile",
          "[mcp][core]") {
  int checked = 0;
  for (auto profile : all_profiles) {
    mcp::server_options options;
    options.profile = profile;
    mcp::server_core core{nullptr, options};
    initialize(core);
    for (const auto* op : mcp::profile_tools(profile)) {
      bool takes = false;
      for (const auto& p : op->params)
        takes = takes || p.operator_only;
      if (!takes)
        continue;
      for (auto [key, value] : {std::pair<std::string, json>{"backend", "host"},
                                {"allow_host_compat", true}}) {
        json args{{"environment", "busybox"}, {key, value}};
        if (op->tool == "vm_run")
          args["command"] = "id";
        auto out = core.handle(tool_call(std::string{op->tool}, args));
        INFO(op->tool << " " << key);
        REQUIRE(out.action == mcp::server_core::outcome::reply);
        CHECK(out.message["error"]["code"] == -32602);
        auto message = out.message["error"]["message"].get<std::string>();
        CHECK_THAT(message, Catch::Contains("unknown argument '" + key + "'"));
        ++checked;
      }
    }
  }
  // vm_run in vm-run; workspace_create in core; vm_run, vm_create and
  // workspace_create in full: two keys each.
  CHECK(checked == 10);
}

TEST_CASE("unknown arguments and malformed secrets are refused",
          "[mcp][core]") {
  mcp::server_core core{nullptr, {}};
  initialize(core);
  auto refused = [&](json args) {
    auto out = core.handle(tool_call("workspace_create", std::move(args)));
    return out.action == mcp::server_core::outcome::reply
           && out.message["error"]["code"] == -32602;
  };
  CHECK(refused({{"environment", "busybox"}, {"bogus", 1}}));
  CHECK(refused({{"environment", "busybox"}, {"secrets", {1, 2}}}));
  CHECK(refused({{"environment", "busybox"},
                 {"secrets", {{{"name", "S"}, {"file_path", 5}}}}}));
  CHECK(refused({{"environment", "busybox"}, {"secrets", {{"a", "b"}}}}));
  CHECK(refused({{"environment", "busybox"}, {"seed_path", 1}}));
}

TEST_CASE("a host path outside the roots is refused before dispatch, naming "
          "them",
          "[mcp][core]") {
  test::temp_dir dir;
  auto root = fs::path{*mcp::resolve_root(dir.path())};
  mcp::server_options options;
  options.operator_roots = {root.string()};
  mcp::server_core core{nullptr, options};
  initialize(core, {{"roots", json::object()}});
  std::vector<std::string> sent;
  auto emit = [&](const std::string& text) {
    sent.push_back(text);
  };
  for (auto [tool, args] :
       {std::pair<std::string, json>{
          "workspace_create",
          {{"environment", "busybox"},
           {"secrets", {{{"name", "S"}, {"file_path", "/etc/shadow"}}}}}},
        {"workspace_create",
         {{"environment", "busybox"}, {"seed_path", "/etc"}}},
        {"workspace_sync_push",
         {{"workspace_id", "ws-x"}, {"source_path", "/home"}}},
        {"workspace_export",
         {{"workspace_id", "ws-x"},
          {"path", "a"},
          {"output_path", "/etc/passwd"},
          {"overwrite", true}}},
        {"workspace_disk_export",
         {{"workspace_id", "ws-x"}, {"output_path", "/tmp/disk.ext4"}}}}) {
    INFO(tool);
    auto text = refusal_text(core.call_tool(tool_call(tool, args), emit, true));
    CHECK_THAT(text, Catch::Contains("invalid_argument")
                       && Catch::Contains("outside the host roots")
                       && Catch::Contains(root.string())
                       && Catch::Contains("given with --host-root")
                       && Catch::Contains("pyro mcp serve --host-root"));
  }
  // The operator's roots: the client is never asked for its own.
  CHECK(sent.empty());
}

TEST_CASE("the client's roots are asked once, and again after a change",
          "[mcp][core]") {
  test::temp_dir dir;
  auto listed = fs::path{*mcp::resolve_root(dir.path())} / "listed";
  fs::create_directories(listed);
  mcp::server_core core{nullptr, {}};
  initialize(core, {{"roots", {{"listChanged", true}}}});
  std::vector<json> asked;
  // The client answers at once, through the core, as a transport would
  // deliver its reply.
  auto emit = [&](const std::string& text) {
    auto request = json::parse(text);
    asked.push_back(request);
    json roots = json::array();
    roots.push_back({{"uri", "file://" + listed.string()}, {"name", "l"}});
    roots.push_back({{"uri", "https://example.com/"}});
    core.handle({{"jsonrpc", "2.0"},
                 {"id", request["id"]},
                 {"result", {{"roots", roots}}}});
  };
  auto text = refusal_text(core.call_tool(export_to("/etc/x"), emit, true));
  REQUIRE(asked.size() == 1);
  CHECK(asked[0]["method"] == "roots/list");
  CHECK_THAT(text, Catch::Contains(listed.string())
                     && Catch::Contains("listed by the client"));
  core.call_tool(export_to("/etc/y"), emit, true);
  CHECK(asked.size() == 1);
  core.handle(
    {{"jsonrpc", "2.0"}, {"method", "notifications/roots/list_changed"}});
  core.call_tool(export_to("/etc/z"), emit, true);
  CHECK(asked.size() == 2);
}

TEST_CASE("a client that answers roots/list with an error gets no roots",
          "[mcp][core]") {
  mcp::server_options options;
  options.fallback_roots = {{"/"}, "the directory the server was started in"};
  mcp::server_core core{nullptr, options};
  initialize(core, {{"roots", json::object()}});
  auto emit = [&](const std::string& text) {
    auto request = json::parse(text);
    core.handle(
      {{"jsonrpc", "2.0"},
       {"id", request["id"]},
       {"error", {{"code", -32601}, {"message", "Roots not supported"}}}});
  };
  // Not the fallback: a client that declares roots decides them.
  auto text = refusal_text(core.call_tool(export_to("/tmp/x"), emit, true));
  CHECK_THAT(text, Catch::Contains("Roots not supported"));
}

TEST_CASE("roots that cannot be asked, or are not declared, fall back",
          "[mcp][core]") {
  test::temp_dir dir;
  auto cwd = fs::path{*mcp::resolve_root(dir.path())};
  mcp::server_options options;
  options.fallback_roots
    = {{cwd.string()}, "the directory the server was started in"};
  int asked = 0;
  auto emit = [&](const std::string&) {
    ++asked;
  };
  {
    mcp::server_core core{nullptr, options};
    initialize(core);
    auto text = refusal_text(core.call_tool(export_to("/etc/x"), emit, true));
    CHECK_THAT(text,
               Catch::Contains(cwd.string()) && Catch::Contains("started in"));
  }
  {
    mcp::server_core core{nullptr, options};
    initialize(core, {{"roots", json::object()}});
    auto text = refusal_text(core.call_tool(export_to("/etc/x"), emit, false));
    CHECK_THAT(text, Catch::Contains("cannot be asked"));
  }
  CHECK(asked == 0);
}
