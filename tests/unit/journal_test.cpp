#include <fstream>

#include <catch2/catch.hpp>

#include "actors/journal.hpp"
#include "temp_dir.hpp"

using namespace pyro;

TEST_CASE("the journal keeps entries in sequence order and survives a "
          "corrupt file",
          "[journal]") {
  test::temp_dir dir;
  journal j{dir.path() / "commands"};
  for (int64_t seq : {3, 1, 2, 10}) {
    journal_entry e;
    e.sequence = seq;
    e.command = "echo " + std::to_string(seq);
    e.cwd = "/workspace";
    e.exit_code = 0;
    e.stdout_text = std::to_string(seq) + "\n";
    auto got = j.append_next(e, seq - 1);
    REQUIRE(got);
    CHECK(*got == seq);
  }
  std::ofstream{dir.path() / "commands" / "000000000099.json"} << "{broken";
  std::vector<std::string> problems;
  auto entries = j.read_all(&problems);
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].sequence == 1);
  CHECK(entries[3].sequence == 10);
  CHECK(entries[3].stdout_text == "10\n");
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("000000000099.json"));
  REQUIRE(j.clear());
  CHECK(j.read_all().empty());
}

TEST_CASE("a journal entry never replaces another: a count a crash took "
          "back numbers after the last entry",
          "[journal]") {
  test::temp_dir dir;
  journal j{dir.path() / "commands"};
  journal_entry e;
  e.command = "true";
  e.cwd = "/workspace";
  REQUIRE(*j.append_next(e, 0) == 1);
  REQUIRE(*j.append_next(e, 1) == 2);
  REQUIRE(*j.append_next(e, 2) == 3);
  e.command = "after the crash";
  auto got = j.append_next(e, 1); // the caller's count says 1
  REQUIRE(got);
  CHECK(*got == 4);
  CHECK(j.last_sequence() == 4);
  auto entries = j.read_all();
  REQUIRE(entries.size() == 4);
  CHECK(entries[1].command == "true");
  CHECK(entries[3].command == "after the crash");
}
