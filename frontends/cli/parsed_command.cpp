#include "frontends/cli/parsed_command.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include <CLI/CLI.hpp>

#include "frontends/cli/arguments.hpp"
#include "frontends/cli/command_words.hpp"
#include "frontends/version.hpp"

namespace pyro::cli {

namespace {

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

// The words of `argv` before the first option or `--`: what names the
// command (`workspace exec WS`).
std::vector<std::string> leading_words(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--json" || argv[i] == "-v" || argv[i] == "--verbose")
      continue; // pyro's own flags may come first
    if (argv[i].empty() || argv[i].front() == '-')
      break;
    out.push_back(argv[i]);
  }
  return out;
}

bool has_subcommand(CLI::App& app, const std::string& name) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == name)
      return true;
  return false;
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

} // namespace

parsed_command parse_command_line(const std::vector<std::string>& argv) {
  parsed_command out;
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
  app.add_flag("--json", out.as_json, "Print structured JSON on stdout.");
  app.add_flag("-v,--verbose", out.verbose, "Debug logs on stderr.");

  // Only the operations the command line can name get their parameters
  // bound (building every option of every command costs more than a thin
  // client's whole run); the rest are listed by name and summary for help.
  auto named = leading_words(argv);
  std::vector<std::unique_ptr<bound_operation>> bound;
  for (const auto& op : contract::operations()) {
    if (op.cli.empty())
      continue;
    auto words = contract::cli_words(op.cli);
    auto& parent = group_for(app, words, words.size() - 1);
    if (named.size() >= words.size()
        && std::equal(words.begin(), words.end(), named.begin()))
      bound.push_back(
        std::make_unique<bound_operation>(parent, words.back(), op));
    else if (!has_subcommand(parent, words.back()))
      parent.add_subcommand(words.back(), std::string{op.summary});
  }
  // `demo` is both a command and the parent of `demo ollama`.
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
    sub->require_subcommand(0, 1);

  auto words = mark_command_start(argv);
  std::vector<const char*> args;
  for (const auto& w : words)
    args.push_back(w.c_str());
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::CallForAllHelp& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::CallForVersion& e) {
    out.exit_status = app.exit(e);
    return out;
  } catch (const CLI::ParseError& e) {
    out.failure = make_error(error_code::invalid_argument, e.what(),
                             "run `pyro --help` or `pyro COMMAND --help` for "
                             "usage and examples");
    return out;
  }

  // The deepest parsed operation wins: `demo ollama` over `demo`.
  const bound_operation* chosen = nullptr;
  for (const auto& b : bound)
    if (b->parsed()
        && (chosen == nullptr || b->op().cli.size() > chosen->op().cli.size()))
      chosen = b.get();
  if (chosen == nullptr) {
    std::string path;
    for (auto* sub = &app; sub != nullptr;) {
      auto subs = sub->get_subcommands();
      sub = subs.empty() ? nullptr : subs.front();
      if (sub != nullptr)
        path += (path.empty() ? "" : " ") + sub->get_name();
    }
    out.failure = make_error(error_code::invalid_argument,
                             "`pyro " + path + "` needs a subcommand",
                             "run `pyro " + path + " --help` to list them");
    return out;
  }
  auto parsed = chosen->arguments();
  if (!parsed) {
    out.failure = parsed.err();
    return out;
  }
  out.op = &chosen->op();
  out.args = std::move(*parsed);
  return out;
}

} // namespace pyro::cli
