#include <catch2/catch.hpp>

#include "actors/patch/unified_diff.hpp"

using namespace pyro;

namespace {

std::string apply_one(const std::string& patch, const std::string& current) {
  auto parsed = parse_unified_diff(patch);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  auto out = apply_file_patch(parsed->front(), current);
  INFO((out ? std::string{} : to_string(out.err())));
  REQUIRE(out);
  return *out;
}

} // namespace

TEST_CASE("a git diff that adds, modifies and deletes parses into three "
          "file patches",
          "[patch]") {
  auto text = "diff --git a/new.txt b/new.txt\n"
              "new file mode 100644\n"
              "--- /dev/null\n"
              "+++ b/new.txt\n"
              "@@ -0,0 +1,2 @@\n"
              "+one\n"
              "+two\n"
              "diff --git a/src/main.c b/src/main.c\n"
              "--- a/src/main.c\n"
              "+++ b/src/main.c\n"
              "@@ -1,3 +1,3 @@\n"
              " int main() {\n"
              "-  return 1;\n"
              "+  return 0;\n"
              " }\n"
              "--- a/old.txt\n"
              "+++ /dev/null\n"
              "@@ -1 +0,0 @@\n"
              "-bye\n";
  auto parsed = parse_unified_diff(text);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[0].kind == file_patch::action::add);
  CHECK((*parsed)[0].path == "new.txt");
  CHECK((*parsed)[1].kind == file_patch::action::modify);
  CHECK((*parsed)[1].path == "src/main.c");
  CHECK((*parsed)[2].kind == file_patch::action::remove);
  CHECK((*parsed)[2].path == "old.txt");
  CHECK(*apply_file_patch((*parsed)[0], "") == "one\ntwo\n");
  CHECK(*apply_file_patch((*parsed)[1], "int main() {\n  return 1;\n}\n")
        == "int main() {\n  return 0;\n}\n");
  CHECK(*apply_file_patch((*parsed)[2], "bye\n") == "");
}

TEST_CASE("hunks apply at an offset when earlier lines moved", "[patch]") {
  auto patch = "--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@\n b\n-c\n+C\n";
  CHECK(apply_one(patch, "a\nb\nc\n") == "a\nb\nC\n");
  // Two lines inserted above: the hunk is found further down.
  CHECK(apply_one(patch, "x\ny\na\nb\nc\n") == "x\ny\na\nb\nC\n");
}

TEST_CASE("several hunks keep track of each other's shifts", "[patch]") {
  auto patch = "--- a/f\n+++ b/f\n"
               "@@ -1,2 +1,3 @@\n a\n+a2\n b\n"
               "@@ -5,2 +6,1 @@\n e\n-f\n";
  CHECK(apply_one(patch, "a\nb\nc\nd\ne\nf\n") == "a\na2\nb\nc\nd\ne\n");
}

TEST_CASE("missing newline at end of file is honoured both ways", "[patch]") {
  auto add_newline = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n\\ No newline at "
                     "end of file\n+x\n";
  CHECK(apply_one(add_newline, "x") == "x\n");
  auto drop_newline = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+y\n\\ No newline "
                      "at end of file\n";
  CHECK(apply_one(drop_newline, "x\n") == "y");
}

TEST_CASE("a hunk that does not match names the file and the hunk", "[patch]") {
  auto parsed = parse_unified_diff("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+y\n"
                                   "@@ -3 +3 @@\n-nope\n+z\n");
  REQUIRE(parsed);
  auto out = apply_file_patch(parsed->front(), "x\nb\nc\n");
  REQUIRE_FALSE(out);
  CHECK(out.err().code == error_code::failed_precondition);
  CHECK_THAT(out.err().message,
             Catch::Contains("hunk 2") && Catch::Contains("'f'"));
}

TEST_CASE("malformed patches are refused with the line that is wrong",
          "[patch]") {
  auto expect_bad = [](const std::string& text, const std::string& needle) {
    auto parsed = parse_unified_diff(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.err().code == error_code::invalid_argument);
    CHECK_THAT(parsed.err().message, Catch::Contains(needle));
  };
  expect_bad("", "no file changes");
  expect_bad("just words\n", "no file changes");
  expect_bad("--- a/f\n", "+++");
  expect_bad("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n x\n", "shorter");
  expect_bad("--- a/f\n+++ b/f\n@@ bogus @@\n", "malformed hunk header");
  expect_bad("--- a/f\n+++ b/g\n@@ -1 +1 @@\n-x\n+y\n", "renames");
  expect_bad("diff --git a/x b/y\nrename from x\nrename to y\n", "renames");
  expect_bad("--- a/f\n+++ b/f\n@@ -1 +1 @@\n?x\n", "unexpected line");
}
