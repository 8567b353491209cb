// The human forms of results: fields a workload or a client chose print
// escaped, the workload's own output streams print as they are.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "frontends/cli/render.hpp"
#include "messages/workspace_record.hpp"
#include "record_fixtures.hpp"

using namespace pyro;
using nlohmann::json;

namespace {

std::string human(std::string_view cli, const json& result,
                  const json& args = json::object()) {
  const auto* op = contract::find_cli(cli);
  REQUIRE(op != nullptr);
  return cli::render_human(*op, result, args);
}

const std::string hostile = "\x1b[2J\x1b]0;pwned\x07\r\xc2\x9b";
const std::string shown = "\\x1b[2J\\x1b]0;pwned\\x07\\r\\u009b";

bool has_controls(const std::string& text) {
  for (unsigned char c : text)
    if ((c < 0x20 && c != '\n') || c == 0x7F || c == 0x9B)
      return true;
  return false;
}

} // namespace

TEST_CASE("list, status and update print names and labels escaped",
          "[cli][render][content]") {
  auto record = test::sample_record("ws-1");
  record.name = hostile;
  record.labels = {{"k", hostile}};
  workspace_entry row{"ws-1", {}, record};
  auto list = human("workspace list",
                    json{{"workspaces", json::array({to_json(row)})}});
  INFO(list);
  CHECK_FALSE(has_controls(list));
  CHECK_THAT(list, Catch::Contains(shown.substr(0, 12)));
  for (const char* cli : {"workspace status", "workspace update"}) {
    auto text = human(cli, to_json(record));
    INFO(text);
    CHECK_FALSE(has_controls(text));
    CHECK_THAT(text, Catch::Contains("name: " + shown));
  }
}

TEST_CASE("paths, diffs and errors print escaped", "[cli][render][content]") {
  json files{{"entries", json::array({json{{"path", "a" + hostile},
                                           {"type", "symlink"},
                                           {"size", 1},
                                           {"link_target", hostile}}})}};
  auto listed = human("workspace file list", files);
  CHECK_FALSE(has_controls(listed));
  CHECK_THAT(listed, Catch::Contains("a" + shown + " -> " + shown));

  json diff{{"workspace_id", "ws-1"},
            {"changed", true},
            {"summary",
             {{"total", 1},
              {"added", 0},
              {"modified", 1},
              {"deleted", 0},
              {"type_changed", 0},
              {"binary", 0}}},
            {"patch", "-ok\n+evil\rok\n\tx\n"}};
  auto patch = human("workspace diff", diff);
  CHECK_THAT(patch, Catch::StartsWith("-ok\n+evil\\rok\n\tx\n"));

  auto err = cli::render_error(
    make_error(error_code::not_found, "no " + hostile, "try " + hostile));
  CHECK(err == "error: no " + shown + "\nhint: try " + shown + "\n");
}

TEST_CASE("file contents print as they are, with or without a header",
          "[cli][render][content]") {
  json read{{"path", "/workspace/" + hostile},
            {"content", hostile},
            {"truncated", false}};
  CHECK(human("workspace file read", read, json{{"content_only", true}})
        == hostile);
  auto with_header = human("workspace file read", read);
  CHECK(with_header
        == "[workspace-file] path=/workspace/" + shown
             + " bytes=" + std::to_string(hostile.size()) + "\n" + hostile);
}
