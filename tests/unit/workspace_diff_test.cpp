#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/diff/workspace_diff.hpp"

using namespace pyro;

namespace {

manifest_entry file(const std::string& path, const std::string& content,
                    uint32_t mode = 0644) {
  return {path, "file",
          mode, content.size(),
          {},   std::to_string(std::hash<std::string>{}(content))};
}

struct tree {
  manifest walk;
  std::map<std::string, std::string> contents;
  int fetches = 0;

  void add(const std::string& path, const std::string& content,
           uint32_t mode = 0644) {
    walk[path] = file(path, content, mode);
    contents[path] = content;
  }

  content_source source() {
    return [this](const std::string& path) -> result<std::string> {
      ++fetches;
      auto i = contents.find(path);
      if (i == contents.end())
        return make_error(error_code::not_found, path);
      return i->second;
    };
  }
};

} // namespace

TEST_CASE("identical walks are unchanged and fetch nothing", "[diff]") {
  tree a;
  a.add("README", "hello\n");
  a.walk["src"] = {"src", "directory", 0755, 4096, {}, {}};
  tree b = a;
  auto d = compare_manifests(a.walk, b.walk, a.source(), b.source());
  REQUIRE(d);
  CHECK_FALSE(d->changed);
  CHECK(d->summary.total == 0);
  CHECK(d->patch.empty());
  CHECK(a.fetches + b.fetches == 0);
}

TEST_CASE("adds, edits, deletes, type and binary changes are all reported",
          "[diff]") {
  tree before;
  before.add("keep.txt", "same\n");
  before.add("edit.txt", "one\ntwo\nthree\n");
  before.add("gone.txt", "bye\n");
  before.add("was_file", "x\n");
  before.add("blob.bin", std::string{"\0\1\2", 3});
  before.add("script.sh", "echo hi\n", 0644);
  tree after;
  after.add("keep.txt", "same\n");
  after.add("edit.txt", "one\nTWO\nthree\n");
  after.add("new.txt", "fresh\n");
  after.walk["was_file"] = {"was_file", "symlink", 0777, 8, "keep.txt", {}};
  after.add("blob.bin", std::string{"\0\1\3", 3});
  after.add("script.sh", "echo hi\n", 0755);

  auto d = compare_manifests(before.walk, after.walk, before.source(),
                             after.source());
  REQUIRE(d);
  CHECK(d->changed);
  CHECK(d->summary.added == 1);
  CHECK(d->summary.deleted == 1);
  CHECK(d->summary.modified == 3); // edit.txt, blob.bin, script.sh
  CHECK(d->summary.type_changed == 1);
  CHECK(d->summary.binary == 1);
  CHECK(d->summary.total == 6);
  CHECK_THAT(d->patch, Catch::Contains("--- a/edit.txt")
                         && Catch::Contains("+++ b/edit.txt")
                         && Catch::Contains("-two\n+TWO")
                         && Catch::Contains("+++ b/new.txt")
                         && Catch::Contains("--- a/gone.txt")
                         && Catch::Contains("Binary files a/blob.bin and "
                                            "b/blob.bin differ"));
  CHECK_THAT(d->patch, !Catch::Contains("keep.txt"));
  // Only changed files were fetched: not keep.txt, not the mode-only script.
  CHECK(before.fetches == 3); // edit, gone, blob
  CHECK(after.fetches == 3);  // edit, new, blob
  bool mode_only = false;
  for (const auto& e : d->entries)
    if (e.path == "script.sh")
      mode_only = e.mode_only;
  CHECK(mode_only);
  auto j = to_json(*d);
  CHECK(j["summary"]["total"] == 6);
  CHECK(j["entries"].size() == 6);
}

TEST_CASE("a fetch failure is reported, not swallowed", "[diff]") {
  tree before;
  before.add("a", "1\n");
  tree after;
  after.walk["a"] = file("a", "2\n");
  auto d = compare_manifests(before.walk, after.walk, before.source(),
                             after.source());
  REQUIRE_FALSE(d);
  CHECK(d.err().code == error_code::not_found);
}

TEST_CASE("manifests round-trip through JSON", "[diff]") {
  manifest m;
  m["a"] = file("a", "x");
  m["l"] = {"l", "symlink", 0777, 1, "a", {}};
  auto back = manifest_from_json(to_json(m));
  REQUIRE(back);
  CHECK(back->size() == 2);
  CHECK(back->at("l").link_target == "a");
  CHECK(back->at("a").hash == m["a"].hash);
  CHECK_FALSE(manifest_from_json(nlohmann::json{{"entries", 3}}));
}
