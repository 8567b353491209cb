#include "frontends/cli/command_line.hpp"

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/sandbox_pool.hpp"
#include "frontends/cli/arguments.hpp"
#include "frontends/cli/demo.hpp"
#include "frontends/cli/render.hpp"
#include "frontends/contract/contract.hpp"
#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/tool_schema.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "frontends/version.hpp"
#include "messages/json_text.hpp"

namespace pyro::cli {

namespace {

using nlohmann::json;

// Descriptions of the command groups, which have no operation of their own.
const std::map<std::string, std::string>& group_summaries() {
  static const std::map<std::string, std::string> groups{
    {"env", "Environments: list, pull, inspect, prune, push."},
    {"mcp", "The MCP server."},
    {"workspace", "Persistent workspaces: create, exec, files, diff, "
                  "export, shells, services, snapshots, reset."},
    {"workspace sync", "Copy host files into a workspace."},
    {"workspace file", "List, read and write workspace files."},
    {"workspace patch", "Apply unified diffs."},
    {"workspace shell", "Persistent PTY shells."},
    {"workspace service", "Long-running services with readiness probes."},
    {"workspace snapshot", "Named snapshots of /workspace."},
    {"workspace disk", "Offline access to a stopped VM workspace's disk."},
  };
  return groups;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string{text}};
  for (std::string word; in >> word;)
    out.push_back(word);
  return out;
}

/// Finds or creates the subcommand for `words[0..n)` below `root`.
CLI::App& group_for(CLI::App& root, const std::vector<std::string>& words,
                    size_t n) {
  CLI::App* app = &root;
  std::string path;
  for (size_t i = 0; i < n; ++i) {
    path += (i ? " " : "") + words[i];
    CLI::App* next = nullptr;
    for (auto* sub : app->get_subcommands([](CLI::App*) { return true; }))
      if (sub->get_name() == words[i])
        next = sub;
    if (next == nullptr) {
      auto i_sum = group_summaries().find(path);
      next = app->add_subcommand(words[i], i_sum != group_summaries().end()
                                             ? i_sum->second
                                             : std::string{});
      next->require_subcommand(0, 1);
    }
    app = next;
  }
  return *app;
}

// The exit codes as the error table has them, for --help.
std::string exit_code_list() {
  std::string out = "Exit codes (the same for an error in every command): "
                    "0 ok";
  for (const auto& row : error_table())
    out += ", " + std::to_string(row.exit_code) + " " + std::string{row.name};
  return out
         + "; `run` and `workspace exec` pass the command's own status "
           "on (124 when it timed out) unless --json is given.";
}

void set_up_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("pyro");
  logger->set_pattern("[%H:%M:%S.%e] [%l] %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

int report_error(const error& err, bool as_json) {
  if (as_json) {
    std::cout << dump_json(to_json(err), 2) << std::endl;
  } else {
    std::cerr << render_error(err);
  }
  return info(err.code).exit_code;
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

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"pyro: sandboxes for coding agents (workspaces, one-shot "
               "runs, an MCP server).",
               "pyro"};
  app.set_version_flag("--version", std::string{version()});
  app.footer("Examples:\n"
             "  pyro doctor\n"
             "  pyro env list\n"
             "  pyro workspace create debian:12 --seed-path ./repo\n"
             "  pyro workspace exec WS -- make test\n"
             "Every command prints JSON with --json. "
             + exit_code_list());
  app.fallthrough();
  app.require_subcommand(1);
  bool as_json = false;
  bool verbose = false;
  app.add_flag("--json", as_json, "Print structured JSON on stdout.");
  app.add_flag("-v,--verbose", verbose, "Debug logs on stderr.");

  std::vector<std::unique_ptr<bound_operation>> bound;
  for (const auto& op : contract::operations()) {
    if (op.cli.empty())
      continue;
    auto words = split_words(op.cli);
    auto& parent = group_for(app, words, words.size() - 1);
    bound.push_back(
      std::make_unique<bound_operation>(parent, words.back(), op));
  }
  // `demo` is both a command and the parent of `demo ollama`.
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    sub->require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return report_error(make_error(error_code::invalid_argument, e.what(),
                                   "run `pyro --help` or `pyro COMMAND "
                                   "--help` for usage and examples"),
                        as_json);
  }
  set_up_logging(verbose);

  // The deepest parsed operation wins: `demo ollama` over `demo`.
  const bound_operation* chosen = nullptr;
  for (const auto& b : bound)
    if (b->parsed()
        && (chosen == nullptr || b->op().cli.size() > chosen->op().cli.size()))
      chosen = b.get();
  if (chosen == nullptr) {
    std::string words;
    for (auto* sub = &app; sub != nullptr;) {
      auto subs = sub->get_subcommands();
      sub = subs.empty() ? nullptr : subs.front();
      if (sub != nullptr)
        words += (words.empty() ? "" : " ") + sub->get_name();
    }
    return report_error(
      make_error(error_code::invalid_argument,
                 "`pyro " + words + "` needs a subcommand",
                 "run `pyro " + words + " --help` to list them"),
      as_json);
  }

  auto args = chosen->arguments();
  if (!args)
    return report_error(args.err(), as_json);
  try {
    // A one-shot command would only park a sandbox to drain it on exit; it
    // still takes one that a longer-lived process parked.
    pyro_options options;
    options.sandbox_pool
      = chosen->op().cli == "mcp serve" ? sandbox_pool_target(1) : 0;
    Pyro sdk{options};
    // Progress lines go to stderr, so stdout stays the result alone.
    auto progress = [](const std::string& line) {
      std::cerr << render_progress(line) << std::flush;
    };
    if (chosen->op().cli == "mcp serve")
      return serve_mcp(sdk, *args, as_json);
    auto out = chosen->op().cli == "demo"
                 ? run_demo(sdk, *args, progress)
                 : dispatch(sdk, chosen->op(), *args, progress);
    if (!out)
      return report_error(out.err(), as_json);
    if (as_json) {
      std::cout << dump_json(*out, 2) << std::endl;
      return 0;
    }
    std::cout << render_human(chosen->op(), *out, *args) << std::flush;
    return human_exit_status(chosen->op(), *out);
  } catch (const std::exception& e) {
    return report_error(make_error(error_code::internal, e.what(),
                                   "rerun with -v and report the output"),
                        as_json);
  }
}

} // namespace pyro::cli
