// The command line as parsed, before anything runs: each occurrence of a
// list flag takes one word, and the command of run / exec / service start
// is everything after its positionals, options or not.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "frontends/cli/parsed_command.hpp"

using namespace pyro;
using nlohmann::json;

namespace {

cli::parsed_command parse(std::vector<std::string> words) {
  words.insert(words.begin(), "pyro");
  auto parsed = cli::parse_command_line(words);
  INFO((parsed.failure ? parsed.failure->message : std::string{"parsed"}));
  REQUIRE_FALSE(parsed.failure);
  REQUIRE(parsed.op != nullptr);
  return parsed;
}

// A value each kind of positional accepts.
std::string sample(std::string_view name) {
  if (name == "environment")
    return "debian:12";
  if (name == "reference")
    return "127.0.0.1:5000/pyro/busybox:latest";
  return "x-" + std::string{name};
}

} // namespace

TEST_CASE("a list flag takes one word, leaving the positional after it",
          "[cli][parse]") {
  auto create = parse({"workspace", "create", "--label", "a=b", "debian:12"});
  CHECK(create.op->cli == "workspace create");
  CHECK(create.args["environment"] == "debian:12");
  CHECK(create.args["labels"] == json{{"a", "b"}});

  auto many = parse({"workspace", "create", "--label", "a=b", "--label=c=d",
                     "--secret", "S=1", "debian:12", "--name", "n"});
  CHECK(many.args["labels"] == json{{"a", "b"}, {"c", "d"}});
  CHECK(many.args["secret"] == json{"S=1"});
  CHECK(many.args["environment"] == "debian:12");
  CHECK(many.args["name"] == "n");

  auto exec = parse({"workspace", "exec", "WS", "--secret-env", "X", "--", "sh",
                     "-lc", "echo hi"});
  CHECK(exec.args["workspace_id"] == "WS");
  CHECK(exec.args["secret_env"] == json{"X"});
  CHECK(exec.args["command"] == "sh -lc 'echo hi'");

  // Every list and map flag of every command, placed before positionals.
  for (const auto& op : contract::operations()) {
    if (op.cli.empty())
      continue;
    for (const auto& p : op.params) {
      if (p.api_only
          || (p.type != contract::value_type::string_list
              && p.type != contract::value_type::string_map))
        continue;
      INFO(op.cli << " " << p.cli_flag());
      auto words = contract::cli_words(op.cli);
      std::string value
        = p.type == contract::value_type::string_map ? "k=v" : "one";
      words.push_back(p.cli_flag());
      words.push_back(value);
      bool command = false;
      for (const auto& q : op.params)
        if (!q.api_only && q.positional)
          words.push_back(sample(q.name));
        else if (q.type == contract::value_type::command)
          command = true;
      if (command) {
        words.push_back("--");
        words.push_back("true");
      }
      auto parsed = parse(words);
      if (p.type == contract::value_type::string_map)
        CHECK(parsed.args[std::string{p.name}] == json{{"k", "v"}});
      else
        CHECK(parsed.args[std::string{p.name}] == json{"one"});
      for (const auto& q : op.params)
        if (!q.api_only && q.positional)
          CHECK(parsed.args[std::string{q.name}] == sample(q.name));
    }
  }
}

TEST_CASE("the command is every word after the positionals", "[cli][parse]") {
  auto run = parse({"run", "debian:12", "git", "--version"});
  CHECK(run.op->cli == "run");
  CHECK(run.args["environment"] == "debian:12");
  CHECK(run.args["command"] == "git --version");

  // pyro's options before the command stay pyro's, wherever they are.
  auto flags = parse({"--json", "run", "--timeout-seconds", "5", "debian:12",
                      "--mem-mib", "512", "git", "--version", "--json"});
  CHECK(flags.as_json);
  CHECK(flags.args["timeout_seconds"] == 5);
  CHECK(flags.args["mem_mib"] == 512);
  CHECK(flags.args["command"] == "git --version --json");

  auto marked = parse({"run", "debian:12", "--", "echo", "--json", "--"});
  CHECK_FALSE(marked.as_json);
  CHECK(marked.args["command"] == "echo --json --");

  auto exec = parse(
    {"workspace", "exec", "WS", "--secret-env", "X", "sh", "-lc", "echo hi"});
  CHECK(exec.args["secret_env"] == json{"X"});
  CHECK(exec.args["command"] == "sh -lc 'echo hi'");

  auto help_word = parse({"workspace", "exec", "WS", "ls", "--help"});
  CHECK(help_word.args["command"] == "ls --help");

  auto service = parse({"workspace", "service", "start", "WS", "web",
                        "--ready-tcp", "127.0.0.1:8000", "python3", "-m",
                        "http.server", "-b", "127.0.0.1"});
  CHECK(service.args["service_name"] == "web");
  CHECK(service.args["ready_tcp"] == "127.0.0.1:8000");
  CHECK(service.args["command"] == "python3 -m http.server -b 127.0.0.1");
}

TEST_CASE("usage errors are invalid_argument", "[cli][parse]") {
  for (std::vector<std::string> words :
       {std::vector<std::string>{"pyro", "run"},
        {"pyro", "workspace", "exec", "WS"},
        {"pyro", "workspace", "status", "WS", "--no-such-flag"},
        {"pyro", "workspace"},
        {"pyro", "workspace", "exec", "WS", "--timeout-seconds", "soon", "--",
         "true"}}) {
    auto parsed = cli::parse_command_line(words);
    REQUIRE(parsed.failure);
    CHECK(parsed.failure->code == error_code::invalid_argument);
    CHECK(parsed.op == nullptr);
  }
}
