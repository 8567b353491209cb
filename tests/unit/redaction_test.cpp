#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/call.hpp"
#include "actors/redaction.hpp"
#include "actors/registry.hpp"
#include "deterministic_fixture.hpp"
#include "record_fixtures.hpp"
#include "temp_dir.hpp"

using namespace pyro;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string value = "tok-3f9a-77Qx";
const std::string marker = "[REDACTED:TOKEN]";

redactor token() {
  return redactor{{{"TOKEN", value}, {"EMPTY", ""}}};
}

} // namespace

TEST_CASE("redact walks every string of a reply type", "[redaction]") {
  workspace_diff diff;
  diff.patch = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+" + value + "\n";
  diff.entries.push_back({value + ".txt", "added", "", "file", false, false});
  redact(token(), diff);
  CHECK(diff.patch.find(value) == std::string::npos);
  CHECK(diff.patch.find("+" + marker + "\n") != std::string::npos);
  CHECK(diff.entries[0].path == marker + ".txt");

  workspace_record record = test::sample_record("ws-1");
  record.name = "name " + value;
  record.labels = {{value, value}};
  record.seed.source_path = "/src/" + value;
  redact(token(), record);
  CHECK(record.name == "name " + marker);
  CHECK(record.labels.at(marker) == marker);
  CHECK(record.seed.source_path == "/src/" + marker);

  export_result exported;
  exported.workspace_path = "/workspace/" + value;
  exported.skipped = {"d/" + value};
  redact(token(), exported);
  CHECK(exported.workspace_path == "/workspace/" + marker);
  CHECK(exported.skipped[0] == "d/" + marker);

  error err = make_error(error_code::not_found, "no " + value, "try " + value);
  redact(token(), err);
  CHECK(err.message == "no " + marker);
  CHECK(err.hint == "try " + marker);
}

TEST_CASE("a workspace's own id survives a secret that occurs in it",
          "[redaction]") {
  redactor short_one{{{"ONE", "1"}}, "ws-1"};
  auto record = test::sample_record("ws-1");
  record.name = "ws-1 copy";
  redact(short_one, record);
  CHECK(record.workspace_id == "ws-1");
  CHECK(record.name == "ws-[REDACTED:ONE] copy");
  json reply{{"workspace_id", "ws-1"}, {"n", "1"}};
  redact(short_one, reply);
  CHECK(reply["workspace_id"] == "ws-1");
  CHECK(reply["n"] == "[REDACTED:ONE]");
}

TEST_CASE("redaction is byte-wise, binary content included", "[redaction]") {
  file_read_result read;
  read.content = std::string{"\0\xff", 2} + value + std::string{"\0", 1};
  redact(token(), read);
  CHECK(read.content
        == std::string{"\0\xff", 2} + marker + std::string{"\0", 1});
  // An empty value redacts nothing; an empty redactor changes nothing.
  std::string text = "plain";
  CHECK(token().apply(text) == "plain");
  file_read_result untouched{"ws", "/workspace/f", value, false, 10};
  redact(redactor{}, untouched);
  CHECK(untouched.content == value);
}

TEST_CASE("a truncated read never ends in the start of a secret",
          "[redaction]") {
  for (size_t n = 1; n < value.size(); ++n) {
    file_read_result read{"ws", "/workspace/f", "key=" + value.substr(0, n),
                          true, 4 + n};
    redact(token(), read);
    INFO(n);
    CHECK(read.content == "key=");
  }
  // Untruncated content is the whole file: nothing to hold back.
  file_read_result whole{"ws", "/workspace/f", "key=tok", false, 100};
  redact(token(), whole);
  CHECK(whole.content == "key=tok");

  exec_result ran;
  ran.outcome.stdout_text = "out " + value.substr(0, 5);
  ran.outcome.truncated = true;
  redact(token(), ran);
  CHECK(ran.outcome.stdout_text == "out ");

  json disk{{"content", "x" + value.substr(0, 3)}, {"truncated", true}};
  redact(token(), disk);
  CHECK(disk["content"] == "x");
}

TEST_CASE("JSON replies are redacted in values and keys, however deep",
          "[redaction]") {
  json reply{{"name", value},
             {"list", {1, "a" + value, json{{value, value}}}},
             {"truncated", "not a bool"}};
  redact(token(), reply);
  CHECK(reply.dump().find(value) == std::string::npos);
  CHECK(reply["name"] == marker);
  CHECK(reply["list"][2][marker] == marker);
  // A hostile guest's reply nested far deeper than the stack allows.
  json deep = value;
  for (int i = 0; i < 200000; ++i)
    deep = json::array({std::move(deep)});
  redact(token(), deep);
  const json* inner = &deep;
  while (inner->is_array())
    inner = &(*inner)[0];
  CHECK(*inner == marker);
}

namespace {

struct secret_workspace : test::deterministic_fixture {
  test::temp_dir home;
  std::shared_ptr<const state_store> store
    = std::make_shared<const state_store>(home.path());
  registry_actor registry;
  caf::scoped_actor self{sys};

  secret_workspace() {
    auto record = test::sample_record("ws-1");
    record.name = "deploy " + value;
    record.secrets = {{"TOKEN", "literal"}};
    record.state = "stopped";
    REQUIRE(store->save(record));
    REQUIRE(save_secret_values(*store, "ws-1", {{"TOKEN", value, "literal"}}));
    registry = sys.spawn(registry_impl, registry_config{store, false});
    sched.run();
  }

  ~secret_workspace() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class T, class Dest, class... Ts>
  result<T> ask(const Dest& dest, Ts&&... xs) {
    auto pending = start_call<T>(self, dest, 5s, std::forward<Ts>(xs)...);
    sched.run();
    return pending.await();
  }
};

} // namespace

TEST_CASE_METHOD(secret_workspace,
                 "replies and errors leave the actors redacted",
                 "[redaction][actors]") {
  auto ws = ask<workspace_actor>(registry, lookup_atom_v, std::string{"ws-1"});
  REQUIRE(ws);
  auto status = ask<workspace_record>(*ws, status_atom_v);
  REQUIRE(status);
  CHECK(status->name == "deploy " + marker);
  auto listed = ask<std::vector<workspace_entry>>(registry, list_atom_v);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().record.name == "deploy " + marker);
  // An argument quoted back by an error.
  auto read
    = ask<file_read_result>(*ws, read_atom_v, "../" + value, uint64_t{100});
  REQUIRE_FALSE(read);
  CHECK_THAT(read.err().message, Catch::Contains(marker));
  CHECK(read.err().message.find(value) == std::string::npos);
  auto named = ask<workspace_record>(
    *ws, update_atom_v, workspace_update{true, "again " + value, {}, {}});
  REQUIRE(named);
  CHECK(named->name == "again " + marker);
}
