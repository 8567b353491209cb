#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/call.hpp"
#include "deterministic_fixture.hpp"

using namespace pyro;
using namespace std::chrono_literals;

namespace {

// Accepts a status request and never answers it.
caf::behavior silent_impl(caf::event_based_actor* self) {
  return {
    [=](status_atom) -> caf::result<workspace_record> {
      return self->make_response_promise<workspace_record>();
    },
  };
}

// Answers with a pyro error.
caf::behavior failing_impl() {
  return {
    [](status_atom) -> caf::result<workspace_record> {
      return to_caf(
        make_error(error_code::resource_exhausted, "too many", "close some"));
    },
  };
}

} // namespace

TEST_CASE_METHOD(test::deterministic_fixture,
                 "a request that times out yields deadline_exceeded",
                 "[actors][call]") {
  auto silent = sys.spawn(silent_impl);
  caf::scoped_actor self{sys};
  auto pending
    = start_call<workspace_record>(self, silent, 250ms, status_atom_v);
  sched.run();
  CHECK(sched.trigger_timeouts() == 1);
  auto reply = pending.await();
  REQUIRE_FALSE(reply);
  CHECK(reply.err().code == error_code::deadline_exceeded);
  caf::anon_send_exit(silent, caf::exit_reason::kill);
  sched.run();
}

TEST_CASE_METHOD(test::deterministic_fixture,
                 "a pyro error crosses the actor boundary intact",
                 "[actors][call]") {
  auto failing = sys.spawn(failing_impl);
  caf::scoped_actor self{sys};
  auto pending = start_call<workspace_record>(self, failing, 1s, status_atom_v);
  sched.run();
  auto reply = pending.await();
  REQUIRE_FALSE(reply);
  CHECK(reply.err().code == error_code::resource_exhausted);
  CHECK(reply.err().message == "too many");
  CHECK(reply.err().hint == "close some");
  caf::anon_send_exit(failing, caf::exit_reason::kill);
  sched.run();
}

TEST_CASE("calling a dead handle is unavailable, not a hang",
          "[actors][call]") {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  caf::actor nobody;
  auto reply = call<workspace_record>(self, nobody, 1s, status_atom_v);
  REQUIRE_FALSE(reply);
  CHECK(reply.err().code == error_code::unavailable);
}

TEST_CASE("every error code maps to one distinct exit code and name",
          "[errors]") {
  std::set<int> exits;
  std::set<std::string_view> names;
  for (const auto& row : error_table()) {
    CHECK(row.exit_code != 0);
    exits.insert(row.exit_code);
    names.insert(row.name);
    CHECK(parse_error_code(row.name) == row.code);
    CHECK(info(row.code).name == row.name);
  }
  CHECK(exits.size() == error_table().size());
  CHECK(names.size() == error_table().size());
  auto j = to_json(make_error(error_code::not_found, "gone", "look"));
  CHECK(j["error"]["code"] == "not_found");
  CHECK(j["error"]["message"] == "gone");
  CHECK(j["error"]["hint"] == "look");
  auto back = error_from_json(j);
  CHECK(back.code == error_code::not_found);
  CHECK(back.message == "gone");
}
