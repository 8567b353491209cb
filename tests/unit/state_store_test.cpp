#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"
#include "messages/sys/atomic_file.hpp"
#include "record_fixtures.hpp"
#include "temp_dir.hpp"

using namespace pyro;

TEST_CASE("a saved record loads back field for field", "[state]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto r = test::sample_record("round-trip");
  r.secrets = {{"token", "literal"}};
  r.seed = {"directory", "/src/repo"};
  REQUIRE(store.save(r));
  auto back = store.load("round-trip");
  REQUIRE(back);
  CHECK(to_json(*back) == to_json(r));
  auto j
    = nlohmann::json::parse(*sys::read_file(store.record_path("round-trip")));
  CHECK(j["schema_version"] == workspace_record::current_schema);
}

TEST_CASE("records that are broken are reported with what is wrong",
          "[state]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto write = [&](const std::string& id, const std::string& text) {
    std::filesystem::create_directories(store.workspace_dir(id));
    std::ofstream{store.record_path(id)} << text;
  };
  write("garbage", "not json at all");
  write("wrongtype", R"({"schema_version":1,"workspace_id":"wrongtype",
    "environment":"debian:12","created_at":"yesterday"})");
  write("other", R"({"schema_version":1,"workspace_id":"someone-else",
    "environment":"debian:12","created_at":1})");
  write("future", R"({"schema_version":99,"workspace_id":"future",
    "environment":"debian:12","created_at":1})");
  std::filesystem::create_directories(store.workspace_dir("empty"));

  auto expect
    = [&](const std::string& id, error_code code, const std::string& needle) {
        auto r = store.load(id);
        REQUIRE_FALSE(r);
        CHECK(r.err().code == code);
        CHECK_THAT(r.err().message, Catch::Contains(needle));
      };
  expect("garbage", error_code::failed_precondition, "not valid JSON");
  expect("wrongtype", error_code::failed_precondition, "created_at");
  expect("other", error_code::failed_precondition, "someone-else");
  expect("future", error_code::failed_precondition, "schema_version 99");
  expect("empty", error_code::failed_precondition, "missing");
  expect("absent", error_code::not_found, "absent");
  expect("../../etc", error_code::invalid_argument, "invalid workspace id");

  REQUIRE(store.save(test::sample_record("fine")));
  auto entries = store.list();
  REQUIRE(entries.size() == 6);
  int broken = 0;
  for (const auto& e : entries)
    broken += e.problem.empty() ? 0 : 1;
  CHECK(broken == 5);
  CHECK(entries.front().workspace_id == "fine"); // most recent activity first
}

TEST_CASE("list orders by last activity and remove leaves nothing behind",
          "[state]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto old_one = test::sample_record("old");
  old_one.last_activity_at = 100;
  auto new_one = test::sample_record("new");
  new_one.last_activity_at = 200;
  REQUIRE(store.save(old_one));
  REQUIRE(store.save(new_one));
  auto entries = store.list();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].workspace_id == "new");
  CHECK(entries[1].workspace_id == "old");
  REQUIRE(store.remove("old"));
  CHECK_FALSE(store.exists("old"));
  auto removed_again = store.remove("old");
  REQUIRE_FALSE(removed_again);
  CHECK(removed_again.err().code == error_code::not_found);
  for (const auto& e :
       std::filesystem::directory_iterator(store.workspaces_dir()))
    CHECK(e.path().filename() == "new");
}

TEST_CASE("a creating record is read until the first save creates the "
          "record",
          "[state]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto r = test::sample_record("young");
  r.state = "creating";
  REQUIRE(store.save_creating(r));
  CHECK_FALSE(std::filesystem::exists(store.record_path("young")));
  auto early = store.load("young");
  REQUIRE(early);
  CHECK(early->state == "creating");
  r.state = "started";
  REQUIRE(store.save(r));
  CHECK(store.load("young")->state == "started");
  // Nothing was replaced, so nothing waits to be freed.
  CHECK_FALSE(
    std::filesystem::exists(store.workspace_dir("young") / "superseded"));
}

TEST_CASE("the activity beside a record counts in load; a torn one is "
          "ignored",
          "[state]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto r = test::sample_record("busy");
  r.command_count = 2;
  r.last_activity_at = 100;
  REQUIRE(store.save(r));
  REQUIRE(store.activity_of("busy").write({7, 200.5}));
  auto back = store.load("busy");
  REQUIRE(back);
  CHECK(back->command_count == 7);
  CHECK(back->last_activity_at == Approx(200.5));

  // A reset's smaller count than the record's loses to the record.
  REQUIRE(store.activity_of("busy").write({1, 50}));
  CHECK(store.load("busy")->command_count == 2);

  // Two copies that disagree are a write caught half-way: not believed.
  std::ofstream{store.workspace_dir("busy") / "activity"}
    << "9 300.000\n8 300.000\n";
  CHECK_FALSE(store.activity_of("busy").read());
  CHECK(store.load("busy")->command_count == 2);
}
