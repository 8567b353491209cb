#include "frontends/cli/command_line.hpp"

#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/sandbox_pool.hpp"
#include "frontends/cli/demo.hpp"
#include "frontends/cli/output.hpp"
#include "frontends/cli/parsed_command.hpp"
#include "frontends/cli/render.hpp"
#include "frontends/contract/contract.hpp"
#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/tool_schema.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "frontends/server/runtime_server.hpp"
#include "frontends/server/server_client.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/home_dirs.hpp"

namespace pyro::cli {

namespace {

using nlohmann::json;

void set_up_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("pyro");
  logger->set_pattern("[%H:%M:%S.%e] [%l] %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

int serve_mcp(Pyro& sdk, const json& args, bool as_json) {
  auto name = args.value("profile", std::string{"workspace-full"});
  auto profile = mcp::parse_profile(name);
  if (!profile)
    return report_error(
      make_error(error_code::invalid_argument, "unknown profile '" + name + "'",
                 "use vm-run, workspace-core or workspace-full"),
      as_json);
  auto transport = args.value("transport", std::string{"stdio"});
  if (transport != "stdio" && transport != "http")
    return report_error(make_error(error_code::invalid_argument,
                                   "unknown transport '" + transport + "'",
                                   "use stdio or http"),
                        as_json);
  // What only the operator decides: tool calls never choose these.
  mcp::server_options options;
  options.profile = *profile;
  options.backend = args.value("backend", std::string{});
  if (options.backend == "auto")
    options.backend.clear(); // auto still lets PYRO_BACKEND decide
  options.allow_host_compat = args.value("allow_host_compat", false);
  for (const auto& dir : args.value("host_root", std::vector<std::string>{})) {
    auto root = mcp::resolve_root(dir);
    if (!root)
      return report_error(root.err(), as_json);
    options.operator_roots.push_back(*root);
  }
  if (transport == "stdio") {
    options.fallback_roots = mcp::working_directory_roots();
    return mcp::serve_stdio(sdk, options);
  }
  mcp::http_options http;
  http.host = args.value("host", http.host);
  http.port = args.value("port", http.port);
  if (const char* token = std::getenv("PYRO_MCP_TOKEN"); token && *token)
    http.bearer_token = token;
  return mcp::serve_http(sdk, options, http);
}

// `pyro server start|stop|status|run`: the resident runtime of PYRO_HOME.
int server_command(const contract::operation& op, bool as_json) {
  auto home = sys::pyro_home();
  if (op.cli == "server run") {
    spdlog::set_level(spdlog::level::info); // the log is the server's record
    server::server_options options;
    options.home = home;
    options.idle = server::idle_from_environment();
    return server::run_server(options);
  }
  auto out = op.cli == "server start"  ? server::start_server(home)
             : op.cli == "server stop" ? server::stop_server(home)
                                       : server::server_status(home);
  if (!out)
    return report_error(out.err(), as_json);
  std::cout << (as_json ? dump_json(*out, 2) + "\n" : render_human(op, *out, {}))
            << std::flush;
  return 0;
}

} // namespace

int run(int argc, char** argv) {
  auto parsed = parse_command_line({argv, argv + argc});
  if (parsed.failure)
    return report_error(*parsed.failure, parsed.as_json);
  if (parsed.op == nullptr)
    return parsed.exit_status;
  set_up_logging(parsed.verbose);
  const auto& op = *parsed.op;
  const auto& args = parsed.args;
  bool as_json = parsed.as_json;
  if (op.cli.rfind("server ", 0) == 0)
    return server_command(op, as_json);
  progress_fn progress = print_progress;
  if (forwardable(op))
    if (auto forwarded
        = server::call_server(sys::pyro_home(), op, args, progress, false))
      return finish(op, args, *forwarded, as_json);
  try {
    // A one-shot command would only park a sandbox to drain it on exit; it
    // still takes one that a longer-lived process parked.
    pyro_options options;
    options.sandbox_pool = op.cli == "mcp serve" ? sandbox_pool_target(1) : 0;
    Pyro sdk{options};
    if (op.cli == "mcp serve")
      return serve_mcp(sdk, args, as_json);
    auto out = op.cli == "demo" ? run_demo(sdk, args, progress)
                                : dispatch(sdk, op, args, progress);
    return finish(op, args, out, as_json);
  } catch (const std::exception& e) {
    return report_error(make_error(error_code::internal, e.what(),
                                   "rerun with -v and report the output"),
                        as_json);
  }
}

} // namespace pyro::cli
