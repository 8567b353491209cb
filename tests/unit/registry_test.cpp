#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/call.hpp"
#include "actors/registry.hpp"
#include "deterministic_fixture.hpp"
#include "record_fixtures.hpp"
#include "temp_dir.hpp"

using namespace pyro;
using namespace std::chrono_literals;

namespace {

struct registry_fixture : test::deterministic_fixture {
  test::temp_dir home;
  std::shared_ptr<const state_store> store
    = std::make_shared<const state_store>(home.path());
  registry_actor registry;
  caf::scoped_actor self{sys};

  registry_fixture() {
    registry = sys.spawn(registry_impl, registry_config{store, false});
    sched.run();
  }

  ~registry_fixture() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class T, class Dest, class... Ts>
  result<T> ask(const Dest& dest, Ts&&... xs) {
    auto pending = start_call<T>(self, dest, 5s, std::forward<Ts>(xs)...);
    sched.run();
    return pending.await();
  }

  workspace_actor lookup(const std::string& id) {
    auto ws = ask<workspace_actor>(registry, lookup_atom_v, id);
    REQUIRE(ws);
    return *ws;
  }
};

} // namespace

TEST_CASE_METHOD(registry_fixture, "an unknown workspace id is not_found",
                 "[actors][registry]") {
  auto ws = ask<workspace_actor>(registry, lookup_atom_v, std::string{"ghost"});
  REQUIRE_FALSE(ws);
  CHECK(ws.err().code == error_code::not_found);
  CHECK_THAT(ws.err().message, Catch::Contains("ghost"));
}

TEST_CASE_METHOD(registry_fixture, "a malformed id is invalid_argument",
                 "[actors][registry]") {
  auto ws
    = ask<workspace_actor>(registry, lookup_atom_v, std::string{"../etc"});
  REQUIRE_FALSE(ws);
  CHECK(ws.err().code == error_code::invalid_argument);
}

TEST_CASE_METHOD(registry_fixture,
                 "a workspace on disk is rehydrated once and then reused",
                 "[actors][registry]") {
  REQUIRE(store->save(test::sample_record("ws-1")));
  auto first = lookup("ws-1");
  auto second = lookup("ws-1");
  CHECK(first == second);
  auto record = ask<workspace_record>(first, status_atom_v);
  REQUIRE(record);
  CHECK(record->workspace_id == "ws-1");
  CHECK(record->labels.at("issue") == "123");
}

TEST_CASE_METHOD(registry_fixture,
                 "a crashed workspace actor is respawned on the next request",
                 "[actors][registry][supervision]") {
  REQUIRE(store->save(test::sample_record("ws-2")));
  auto before = lookup("ws-2");
  caf::anon_send_exit(before, caf::exit_reason::kill);
  sched.run(); // delivers the exit, then the down message to the registry
  auto failures = ask<int32_t>(registry, failures_atom_v, std::string{"ws-2"});
  REQUIRE(failures);
  CHECK(*failures == 1);
  auto after = lookup("ws-2");
  CHECK(after != before);
  auto record = ask<workspace_record>(after, status_atom_v);
  REQUIRE(record);
  CHECK(record->workspace_id == "ws-2");
}

TEST_CASE_METHOD(registry_fixture,
                 "deleting a workspace removes it and its actor",
                 "[actors][registry]") {
  REQUIRE(store->save(test::sample_record("ws-3")));
  auto ws = lookup("ws-3");
  auto removed = ask<bool>(ws, remove_atom_v);
  REQUIRE(removed);
  CHECK(*removed);
  sched.run();
  CHECK_FALSE(std::filesystem::exists(store->workspace_dir("ws-3")));
  auto failures = ask<int32_t>(registry, failures_atom_v, std::string{"ws-3"});
  REQUIRE(failures);
  CHECK(*failures == 0); // a normal exit is not a failure
  auto again
    = ask<workspace_actor>(registry, lookup_atom_v, std::string{"ws-3"});
  REQUIRE_FALSE(again);
  CHECK(again.err().code == error_code::not_found);
}

TEST_CASE_METHOD(registry_fixture,
                 "a corrupt record is reported by status, not a crash",
                 "[actors][registry]") {
  std::filesystem::create_directories(store->workspace_dir("bad"));
  std::ofstream{store->record_path("bad")} << "{\"schema_version\": 1, trunc";
  auto ws = lookup("bad");
  auto record = ask<workspace_record>(ws, status_atom_v);
  REQUIRE_FALSE(record);
  CHECK(record.err().code == error_code::failed_precondition);
  CHECK_THAT(record.err().message, Catch::Contains("unreadable record"));
  auto list = ask<std::vector<workspace_entry>>(registry, list_atom_v);
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK_FALSE(list->front().problem.empty());
}

TEST_CASE_METHOD(registry_fixture,
                 "a started record without its sandbox shows as agent_gone, "
                 "and stays stored as started",
                 "[actors][registry]") {
  REQUIRE(store->save(test::sample_record("ws-4"))); // no sandbox runs
  auto record = ask<workspace_record>(lookup("ws-4"), status_atom_v);
  REQUIRE(record);
  CHECK(record->state == "agent_gone");
  CHECK_THAT(record->hint, Catch::Contains("pyro workspace start ws-4"));
  CHECK(to_json(*record).at("hint") == record->hint);
  auto list = ask<std::vector<workspace_entry>>(registry, list_atom_v);
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(list->front().record.state == "agent_gone");
  auto stored = store->load("ws-4");
  REQUIRE(stored);
  CHECK(stored->state == "started");
  CHECK(stored->hint.empty());
  CHECK_FALSE(to_json(*stored).contains("hint"));
  // A stopped one is shown as it is.
  stored->state = "stopped";
  REQUIRE(store->save(*stored));
  record = ask<workspace_record>(lookup("ws-4"), status_atom_v);
  REQUIRE(record);
  CHECK(record->state == "stopped");
  CHECK(record->hint.empty());
}
