#include <algorithm>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"
#include "frontends/contract/contract.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "record_fixtures.hpp"
#include "run_process.hpp"
#include "temp_dir.hpp"

using namespace pyro;
using nlohmann::json;

namespace {

struct cli_fixture {
  test::temp_dir home;
  test::temp_dir cache;
  state_store store{home.path()};

  test::process_output pyro(std::vector<std::string> args) {
    args.insert(args.begin(), PYRO_BIN);
    return test::run_process(
      args, {{"PYRO_HOME", home.path().string()},
             {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()}});
  }

  json pyro_json(std::vector<std::string> args, int expected_exit = 0) {
    // Before `--`, or it would become part of the command.
    args.insert(std::find(args.begin(), args.end(), "--"), "--json");
    auto r = pyro(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == expected_exit);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }
};

} // namespace

TEST_CASE_METHOD(cli_fixture, "pyro --version prints the version", "[cli]") {
  auto r = pyro({"--version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("0."));
}

TEST_CASE_METHOD(cli_fixture, "doctor --json reports the host truthfully",
                 "[cli][doctor]") {
  auto j = pyro_json({"doctor"});
  const auto& kvm = j["host"]["kvm"];
  CHECK(kvm["exists"] == std::filesystem::exists("/dev/kvm"));
  CHECK(kvm["stock_guest"]["reason"].get<std::string>().size() > 0);
  CHECK(j["host"]["platform"] == "linux-x86_64");
  CHECK(j["host"]["namespaces"].contains("ok"));
  CHECK(j["environment_cache"] == cache.path().string());
  CHECK(j["pyro_home"] == home.path().string());
  std::vector<std::string> names;
  for (const auto& b : j["backends"]) {
    names.push_back(b["name"]);
    CHECK_FALSE(b["reason"].get<std::string>().empty());
  }
  CHECK(names
        == std::vector<std::string>{"firecracker", "qemu", "sandbox", "host"});
  for (const char* cap : {"vm_boot", "guest_exec", "guest_network"})
    CHECK(j["capabilities"].contains(cap));
  CHECK((j["runtime"] == "PASS" || j["runtime"] == "FAIL"));
  // Without --json the same facts print for people.
  auto human = pyro({"doctor"});
  CHECK(human.exit_code == 0);
  CHECK_THAT(human.out, Catch::Contains("KVM: exists="));
  CHECK_THAT(human.out, Catch::Contains("Capabilities:"));
}

TEST_CASE_METHOD(cli_fixture, "env list --json lists the catalog",
                 "[cli][env]") {
  auto j = pyro_json({"env", "list"});
  std::set<std::string> names;
  for (const auto& e : j["environments"]) {
    names.insert(e["name"].get<std::string>());
    CHECK(e["installed"] == false);
  }
  CHECK(names.count("debian:12") == 1);
  CHECK(names.count("debian:12-base") == 1);
  CHECK(names.count("debian:12-build") == 1);
  CHECK(names.count("busybox") == 0);
  auto all = pyro_json({"env", "list", "--all"});
  CHECK(all["environments"].size() == j["environments"].size() + 1);
}

TEST_CASE_METHOD(cli_fixture, "an unknown workspace id is not_found",
                 "[cli][workspace]") {
  for (const char* verb : {"status", "delete"}) {
    auto j = pyro_json({"workspace", verb, "does-not-exist"}, 3);
    CHECK(j["error"]["code"] == "not_found");
    CHECK_THAT(j["error"]["message"].get<std::string>(),
               Catch::Contains("does-not-exist"));
    CHECK(j["error"]["hint"].is_string());
  }
  auto human = pyro({"workspace", "status", "does-not-exist"});
  CHECK(human.exit_code == 3);
  CHECK(human.out.empty());
  CHECK_THAT(human.err, Catch::Contains("error: workspace 'does-not-exist'"));
}

TEST_CASE_METHOD(cli_fixture, "a path-like id is rejected as invalid",
                 "[cli][workspace]") {
  auto j = pyro_json({"workspace", "status", "../../etc"}, 2);
  CHECK(j["error"]["code"] == "invalid_argument");
}

TEST_CASE_METHOD(cli_fixture,
                 "workspace list, status and delete work over the store",
                 "[cli][workspace]") {
  CHECK(pyro_json({"workspace", "list"})["count"] == 0);
  auto older = test::sample_record("older");
  older.last_activity_at -= 100;
  REQUIRE(store.save(older));
  REQUIRE(store.save(test::sample_record("newer")));
  std::filesystem::create_directories(store.workspace_dir("broken"));
  std::ofstream{store.record_path("broken")} << "{truncated";

  auto list = pyro_json({"workspace", "list"});
  REQUIRE(list["count"] == 3);
  CHECK(list["workspaces"][0]["workspace_id"] == "newer");
  CHECK(list["workspaces"][0]["record_status"] == "ok");
  CHECK(list["workspaces"][1]["workspace_id"] == "older");
  bool marked = false;
  for (const auto& w : list["workspaces"])
    if (w["workspace_id"] == "broken")
      marked = w["record_status"] == "corrupt" && w["problem"].is_string();
  CHECK(marked);
  auto human_list = pyro({"workspace", "list"});
  CHECK(human_list.exit_code == 0);
  CHECK_THAT(human_list.out, Catch::Contains("unreadable record"));

  auto status = pyro_json({"workspace", "status", "newer"});
  CHECK(status["environment"] == "debian:12");
  CHECK(status["labels"]["issue"] == "123");
  CHECK(status["workspace_seed"]["mode"] == "empty");

  auto corrupt = pyro_json({"workspace", "status", "broken"}, 5);
  CHECK(corrupt["error"]["code"] == "failed_precondition");
  CHECK_THAT(corrupt["error"]["message"].get<std::string>(),
             Catch::Contains("unreadable record"));

  // A corrupt workspace can still be deleted.
  auto deleted = pyro_json({"workspace", "delete", "broken"});
  CHECK(deleted["deleted"] == true);
  CHECK_FALSE(std::filesystem::exists(store.workspace_dir("broken")));
  pyro_json({"workspace", "status", "broken"}, 3);
  CHECK(pyro_json({"workspace", "list"})["count"] == 2);
}

TEST_CASE_METHOD(cli_fixture, "bad usage is invalid_argument with exit 2",
                 "[cli]") {
  auto missing = pyro_json({"workspace", "status"}, 2);
  CHECK(missing["error"]["code"] == "invalid_argument");
  auto bad_number = pyro_json(
    {"workspace", "exec", "ws", "--timeout-seconds", "soon", "--", "true"}, 2);
  CHECK_THAT(bad_number["error"]["message"].get<std::string>(),
             Catch::Contains("--timeout-seconds"));
  auto bad_label = pyro_json({"workspace", "update", "ws", "--label", "x"}, 2);
  CHECK_THAT(bad_label["error"]["message"].get<std::string>(),
             Catch::Contains("KEY=VALUE"));
  auto unknown = pyro({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  auto group_only = pyro({"workspace"});
  CHECK(group_only.exit_code == 2);
  CHECK_THAT(group_only.err, Catch::Contains("needs a subcommand"));
}

TEST_CASE("every tool of the contract is served by this build",
          "[cli][contract]") {
  // Commands without a tool (demo, mcp serve) are their frontends' own.
  for (const auto& op : contract::operations()) {
    if (op.tool.empty())
      continue;
    INFO(op.tool);
    CHECK(dispatchable(op));
  }
}

TEST_CASE_METHOD(cli_fixture,
                 "workspace update renames and relabels; reads do not bump "
                 "last activity",
                 "[cli][workspace]") {
  auto r = test::sample_record("upd");
  r.last_activity_at = 1000;
  REQUIRE(store.save(r));
  auto before = pyro_json({"workspace", "status", "upd"});
  CHECK(before["last_activity_at"] == 1000);
  auto updated = pyro_json({"workspace", "update", "upd", "--name", "fix",
                            "--label", "owner=me", "--clear-label", "issue"});
  CHECK(updated["name"] == "fix");
  CHECK(updated["labels"] == json{{"owner", "me"}});
  CHECK(updated["last_activity_at"].get<double>() > 1000);
  auto after = pyro_json({"workspace", "status", "upd"});
  CHECK(after["labels"] == json{{"owner", "me"}});
  CHECK(after["last_activity_at"] == updated["last_activity_at"]);
  auto bad = pyro_json({"workspace", "update", "upd", "--label", "-x=1"}, 2);
  CHECK_THAT(bad["error"]["message"].get<std::string>(),
             Catch::Contains("invalid label key"));
  pyro_json({"workspace", "update", "nope", "--name", "x"}, 3);
}

TEST_CASE_METHOD(cli_fixture, "reap_expired deletes only what has expired",
                 "[sdk][ttl]") {
  auto expired = test::sample_record("expired");
  expired.expires_at = sys::unix_now() - 5;
  auto fresh = test::sample_record("fresh");
  auto forever = test::sample_record("forever");
  forever.ttl_seconds = 0;
  forever.expires_at = 1;
  for (const auto& r : {expired, fresh, forever})
    REQUIRE(store.save(r));
  Pyro sdk{pyro_options{home.path(), std::chrono::seconds{30}}};
  auto reaped = sdk.reap_expired();
  REQUIRE(reaped);
  CHECK(reaped->deleted == std::vector<std::string>{"expired"});
  CHECK(reaped->failed.empty());
  CHECK_FALSE(store.exists("expired"));
  CHECK(store.exists("fresh"));
  CHECK(store.exists("forever"));
}

namespace {

// A command line for `op` that is valid but for the workspace id or the
// environment it names, so that only they can make it fail.
std::vector<std::string> valid_but_for(const contract::operation& op,
                                       const std::string& workspace,
                                       const std::string& environment,
                                       const std::filesystem::path& scratch) {
  auto argv = contract::cli_words(op.cli);
  bool command = false;
  for (const auto& p : op.params) {
    if (p.api_only)
      continue;
    if (p.type == contract::value_type::command) {
      command = true;
    } else if (p.positional) {
      if (p.name == "workspace_id")
        argv.push_back(workspace);
      else if (p.name == "environment")
        argv.push_back(environment);
      else if (p.name == "source_path")
        argv.push_back(scratch.string());
      else if (p.name == "reference")
        argv.push_back("127.0.0.1:9/pyro/busybox:latest");
      else if (p.name == "path")
        argv.push_back("note.txt");
      else
        argv.push_back("name-1");
    } else if (p.required) {
      argv.push_back(p.cli_flag());
      argv.push_back(p.name == "output_path" ? (scratch / "out").string()
                                             : std::string{"x"});
    } else if (p.name == "text" || p.name == "patch") {
      argv.push_back(p.cli_flag()); // one of these is needed
      argv.push_back(p.name == "text" ? "hello\n"
                                      : "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n");
    }
  }
  if (command) {
    argv.push_back("--");
    argv.push_back("true");
  }
  return argv;
}

} // namespace

TEST_CASE_METHOD(cli_fixture,
                 "the same error exits with the same code in every command",
                 "[cli][contract][errors]") {
  test::temp_dir scratch;
  auto expect = [&](std::vector<std::string> argv, error_code code) {
    auto j = pyro_json(argv, info(code).exit_code);
    CHECK(j["error"]["code"] == std::string{to_string(code)});
  };
  int workspace_commands = 0, environment_commands = 0;
  for (const auto& op : contract::operations()) {
    if (op.cli.empty())
      continue;
    bool takes_workspace = false, takes_environment = false;
    for (const auto& p : op.params) {
      takes_workspace = takes_workspace || p.name == "workspace_id";
      takes_environment
        = takes_environment || (p.name == "environment" && p.positional);
    }
    INFO(op.cli);
    if (takes_workspace) {
      ++workspace_commands;
      expect(valid_but_for(op, "no-such-ws", "", scratch.path()),
             error_code::not_found);
      expect(valid_but_for(op, "../escape", "", scratch.path()),
             error_code::invalid_argument);
    }
    if (takes_environment) {
      ++environment_commands;
      expect(valid_but_for(op, "", "debian:13", scratch.path()),
             error_code::not_found);
    }
    auto unknown_flag = contract::cli_words(op.cli);
    unknown_flag.push_back("--no-such-flag");
    expect(unknown_flag, error_code::invalid_argument);
  }
  // run, env pull|inspect|push and workspace create; most workspace ones.
  CHECK(environment_commands == 5);
  CHECK(workspace_commands >= 30);
}

TEST_CASE_METHOD(cli_fixture,
                 "list flags take one word and the command is not pyro's",
                 "[cli][parse]") {
  // `--label a=b` once left nothing for the workspace id.
  REQUIRE(store.save(test::sample_record("lbl")));
  auto updated
    = pyro_json({"workspace", "update", "--label", "owner=me", "lbl"});
  CHECK(updated["labels"]["owner"] == "me");
  // `--secret-env X --` once ate the `--`, and the command's -lc with it.
  auto exec = pyro_json({"workspace", "exec", "no-such-ws", "--secret-env",
                         "X", "--", "sh", "-lc", "echo hi"},
                        3);
  CHECK(exec["error"]["code"] == "not_found");
  // Without `--`, `--version` is the command's, not pyro's.
  auto run = pyro({"run", "debian:13", "git", "--version"});
  CHECK(run.exit_code == 3);
  CHECK_THAT(run.err, Catch::Contains("unknown environment 'debian:13'"));
  CHECK_FALSE(Catch::StartsWith("0.").match(run.out));
}
