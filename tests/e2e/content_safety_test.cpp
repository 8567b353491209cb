// What comes out of a workspace is safe to have: exported files are plain
// files of the caller's, secret values are redacted from every reply, and
// names chosen by a client cannot drive the terminal that prints them.

#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// 2021-03-04 05:06:07 UTC, and a second one for the directory.
constexpr time_t file_mtime = 1614834367;
constexpr time_t dir_mtime = 1500000000;

struct stat stat_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an export writes plain files of the caller's with the "
                 "workspace's modification times",
                 "[e2e][export][content]") {
  auto id = create();
  out(id, "mkdir -p d/gdir && echo '#!/bin/sh' > d/tool && chmod 4755 d/tool"
          " && chmod 2755 d/gdir && mkdir d/tmp && chmod 1777 d/tmp"
          " && echo x > d/open && chmod 0666 d/open && mkfifo d/pipe"
          " && touch -d @"
            + std::to_string(file_mtime) + " d/tool d/open d/gdir && touch -d @"
            + std::to_string(dir_mtime) + " d");
  // The sandbox itself keeps the bits: it is the host copy that loses them.
  CHECK(out(id, "stat -c %a d/tool d/gdir") == "4755\n2755\n");
  test::temp_dir host;
  auto dest = host.path() / "d";
  auto exported
    = pyro_json({"workspace", "export", id, "d", "--output", dest.string()});
  INFO(exported.dump());
  // A FIFO is harmless on the host and comes out as one; only device
  // nodes (which a sandbox cannot make) would be left out.
  CHECK(exported["skipped_count"] == 0);
  CHECK(fs::is_fifo(fs::symlink_status(dest / "pipe")));
  CHECK((stat_of(dest / "pipe").st_mode & 07777) == 0644);

  auto tool = stat_of(dest / "tool");
  CHECK((tool.st_mode & 07777) == 0755);
  CHECK(tool.st_uid == ::geteuid());
  CHECK(tool.st_gid == ::getegid());
  CHECK(tool.st_mtime == file_mtime);
  auto gdir = stat_of(dest / "gdir");
  CHECK(S_ISDIR(gdir.st_mode));
  CHECK((gdir.st_mode & 07777) == 0755);
  CHECK(gdir.st_mtime == file_mtime);
  CHECK((stat_of(dest / "tmp").st_mode & 07777) == 0755);
  CHECK((stat_of(dest / "open").st_mode & 07777) == 0644);
  // A directory's time is set after its contents were written.
  auto top = stat_of(dest);
  CHECK(top.st_uid == ::geteuid());
  CHECK(top.st_mtime == dir_mtime);

  // A single file comes out the same way.
  auto single = host.path() / "tool";
  pyro_json({"workspace", "export", id, "d/tool", "--output", single.string()});
  auto one = stat_of(single);
  CHECK((one.st_mode & 07777) == 0755);
  CHECK(one.st_mtime == file_mtime);
}

namespace {

const std::string secret = "hunter2-Zq81-secret-value";
const std::string marker = "[REDACTED:TOKEN]";

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "file reads show a secret's marker, never its value",
                 "[e2e][secrets][content]") {
  auto id = create({"--secret", "TOKEN=" + secret});
  out(id, "printf 'key=%s\\n' \"$(cat /run/pyro-secrets/TOKEN)\" > conf;"
          " printf 'a\\0b%sc' \"$(cat /run/pyro-secrets/TOKEN)\" > blob");
  auto read = pyro_json({"workspace", "file", "read", id, "conf"});
  CHECK(read["content"] == "key=" + marker + "\n");
  auto raw = pyro({"workspace", "file", "read", id, "conf", "--content-only"});
  REQUIRE(raw.exit_code == 0);
  CHECK(raw.out == "key=" + marker + "\n");
  auto human = pyro({"workspace", "file", "read", id, "conf"});
  CHECK(human.out.find(secret) == std::string::npos);
  CHECK(human.out.find(marker) != std::string::npos);
  // Binary content is redacted byte for byte, as text is.
  auto blob = pyro({"workspace", "file", "read", id, "blob", "--content-only"});
  CHECK(blob.out == std::string{"a\0b", 3} + marker + "c");
  // A read cut inside the value shows none of it, however the cut is chosen.
  for (size_t cut : {size_t{6}, size_t{10}, 4 + secret.size() - 1}) {
    auto part = pyro_json({"workspace", "file", "read", id, "conf",
                           "--max-bytes", std::to_string(cut)});
    INFO(cut << ": " << part.dump());
    CHECK(part["truncated"] == true);
    CHECK(part["content"] == "key=");
  }
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a diff redacts its patch and its entries",
                 "[e2e][secrets][content]") {
  auto id = create({"--secret", "TOKEN=" + secret});
  out(id, "S=$(cat /run/pyro-secrets/TOKEN); echo \"token: $S\" > notes.txt;"
          " echo named > \"$S.txt\"");
  auto diff = pyro_json({"workspace", "diff", id});
  INFO(diff.dump());
  CHECK(diff.dump().find(secret) == std::string::npos);
  CHECK(diff["patch"].get<std::string>().find("+token: " + marker)
        != std::string::npos);
  bool named = false;
  for (const auto& e : diff["entries"])
    named = named || e["path"] == marker + ".txt";
  CHECK(named);
  auto human = pyro({"workspace", "diff", id});
  CHECK(human.out.find(secret) == std::string::npos);
  auto listed = pyro({"workspace", "file", "list", id});
  CHECK(listed.out.find(secret) == std::string::npos);
  CHECK(listed.out.find(marker + ".txt") != std::string::npos);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "an error quoting an argument equal to a secret is redacted",
                 "[e2e][secrets][content]") {
  auto id = create({"--secret", "TOKEN=" + secret});
  auto missing = pyro_json({"workspace", "file", "read", id, secret}, 3);
  INFO(missing.dump());
  CHECK(missing.dump().find(secret) == std::string::npos);
  CHECK(missing["error"]["message"].get<std::string>().find(marker)
        != std::string::npos);
  auto human = pyro({"workspace", "file", "read", id, "../" + secret});
  CHECK(human.exit_code == 2);
  CHECK(human.err.find(secret) == std::string::npos);
  // The export summary names the guest path redacted too.
  out(id, "echo x > \"$(cat /run/pyro-secrets/TOKEN)\"");
  test::temp_dir host;
  auto exported = pyro_json({"workspace", "export", id, secret, "--output",
                             (host.path() / "x").string()});
  CHECK(exported["workspace_path"] == "/workspace/" + marker);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "names and labels with control characters print escaped",
                 "[e2e][content][cli]") {
  const std::string name = "\x1b[31mred\x07";
  auto id = create({"--name", name, "--label", "k=\x1b]0;title\x07"});
  // JSON keeps the exact value.
  CHECK(pyro_json({"workspace", "status", id})["name"] == name);
  auto list = pyro({"workspace", "list"});
  REQUIRE(list.exit_code == 0);
  INFO(list.out);
  CHECK(list.out.find('\x1b') == std::string::npos);
  CHECK(list.out.find("\\x1b[31mred\\x07") != std::string::npos);
  auto status = pyro({"workspace", "status", id});
  REQUIRE(status.exit_code == 0);
  INFO(status.out);
  CHECK(status.out.find('\x1b') == std::string::npos);
  CHECK(status.out.find('\x07') == std::string::npos);
  CHECK(status.out.find("name: \\x1b[31mred\\x07") != std::string::npos);
  auto updated = pyro({"workspace", "update", id, "--name", "\x9b\xff"});
  REQUIRE(updated.exit_code == 0);
  CHECK(updated.out.find("name: \\x9b\\xff") != std::string::npos);
  // A path in an error message is escaped as well.
  auto err = pyro({"workspace", "file", "read", id, "no\x1b[2Jpe"});
  CHECK(err.exit_code == 3);
  CHECK(err.err.find('\x1b') == std::string::npos);
  CHECK(err.err.find("no\\x1b[2Jpe") != std::string::npos);
}
