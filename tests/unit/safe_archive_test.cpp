#include <fstream>
#include <map>

#include <archive.h>
#include <archive_entry.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "actors/archive/safe_archive.hpp"
#include "messages/sys/unique_fd.hpp"
#include "temp_dir.hpp"

using namespace pyro;
namespace fs = std::filesystem;

namespace {

struct member {
  std::string name;
  mode_t type = AE_IFREG;
  std::string content;
  std::string link; // symlink target or hard link target
  mode_t perm = 0;  // 0: 0755 for directories, 0644 otherwise
  time_t mtime = 0;
};

// Writes an archive with exactly the members given, however hostile.
void write_archive(const fs::path& path, const std::vector<member>& members,
                   bool gzip) {
  auto* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip)
    archive_write_add_filter_gzip(a);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const auto& m : members) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, m.type);
    archive_entry_set_perm(e, m.perm != 0          ? m.perm
                              : m.type == AE_IFDIR ? 0755
                                                   : 0644);
    if (m.mtime != 0)
      archive_entry_set_mtime(e, m.mtime, 0);
    archive_entry_set_uid(e, 0); // as a sandbox's root sends them
    archive_entry_set_gid(e, 0);
    if (m.type == AE_IFLNK)
      archive_entry_set_symlink(e, m.link.c_str());
    else if (m.type == AE_IFREG && !m.link.empty())
      archive_entry_set_hardlink(e, m.link.c_str());
    if (m.type == AE_IFCHR)
      archive_entry_set_rdev(e, makedev(1, 3));
    archive_entry_set_size(e, m.type == AE_IFREG && m.link.empty()
                                ? static_cast<la_int64_t>(m.content.size())
                                : 0);
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    if (m.type == AE_IFREG && m.link.empty())
      archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// name -> (type, content or link target)
std::map<std::string, std::pair<mode_t, std::string>>
read_back(const fs::path& tar) {
  std::map<std::string, std::pair<mode_t, std::string>> out;
  auto* a = archive_read_new();
  archive_read_support_format_tar(a);
  REQUIRE(archive_read_open_filename(a, tar.c_str(), 10240) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string body;
    if (archive_entry_filetype(e) == AE_IFLNK) {
      body = archive_entry_symlink(e);
    } else {
      char buf[4096];
      for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof(buf))) > 0;)
        body.append(buf, static_cast<size_t>(n));
    }
    out[archive_entry_pathname(e)] = {archive_entry_filetype(e), body};
  }
  archive_read_free(a);
  return out;
}

} // namespace

TEST_CASE("a directory is packed with links kept as links", "[archive]") {
  test::temp_dir dir;
  auto src = dir.path() / "src";
  fs::create_directories(src / "sub" / "deep");
  std::ofstream{src / "top.txt"} << "top\n";
  std::ofstream{src / "sub" / "deep" / "leaf.txt"} << "leaf\n";
  fs::create_symlink("sub/deep/leaf.txt", src / "link");
  auto out = dir.path() / "out.tar";
  auto packed = pack_for_import(src, out);
  REQUIRE(packed);
  CHECK(packed->source_kind == "directory");
  auto entries = read_back(out);
  CHECK(entries.at("top.txt").second == "top\n");
  CHECK(entries.at("sub/deep/leaf.txt").second == "leaf\n");
  CHECK(entries.at("link").first == AE_IFLNK);
  CHECK(entries.at("link").second == "sub/deep/leaf.txt");
  CHECK(entries.count("sub/") + entries.count("sub") == 1);
  CHECK(packed->entries == entries.size());
}

TEST_CASE("a directory holding an escaping symlink or a FIFO is refused",
          "[archive]") {
  test::temp_dir dir;
  auto src = dir.path() / "src";
  fs::create_directories(src);
  std::ofstream{src / "ok.txt"} << "ok";
  SECTION("escaping symlink") {
    fs::create_symlink("../../etc/passwd", src / "evil");
  }
  SECTION("fifo") {
    REQUIRE(::mkfifo((src / "pipe").c_str(), 0644) == 0);
  }
  auto out = dir.path() / "out.tar";
  auto packed = pack_for_import(src, out);
  REQUIRE_FALSE(packed);
  CHECK(packed.err().code == error_code::invalid_argument);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE(".tar, .tar.gz and .tgz archives are accepted", "[archive]") {
  test::temp_dir dir;
  std::vector<member> good = {{"a/", AE_IFDIR, "", ""},
                              {"a/b.txt", AE_IFREG, "bee", ""},
                              {"./c.txt", AE_IFREG, "sea", ""},
                              {"a/hard", AE_IFREG, "", "a/b.txt"},
                              {"a/up", AE_IFLNK, "", "../c.txt"}};
  for (auto [name, gzip] :
       {std::pair{"in.tar", false}, std::pair{"in.tar.gz", true},
        std::pair{"in.tgz", true}}) {
    auto in = dir.path() / name;
    write_archive(in, good, gzip);
    auto out = dir.path() / (std::string{name} + ".out");
    auto packed = pack_for_import(in, out);
    INFO(name);
    REQUIRE(packed);
    CHECK(packed->source_kind == "tar_archive");
    auto entries = read_back(out);
    CHECK(entries.at("a/b.txt").second == "bee");
    CHECK(entries.at("c.txt").second == "sea"); // "./" dropped
    CHECK(entries.at("a/up").second == "../c.txt");
  }
}

TEST_CASE("hostile archive entries are refused by name", "[archive]") {
  test::temp_dir dir;
  struct hostile {
    const char* label;
    member m;
    const char* needle;
  };
  std::vector<hostile> corpus = {
    {"absolute", {"/etc/passwd", AE_IFREG, "x", ""}, "/etc/passwd"},
    {"dotdot", {"a/../../x", AE_IFREG, "x", ""}, "'..'"},
    {"bare dotdot", {"..", AE_IFDIR, "", ""}, "'..'"},
    {"absolute symlink", {"l", AE_IFLNK, "", "/etc/shadow"}, "outside"},
    {"escaping symlink", {"d/l", AE_IFLNK, "", "../../x"}, "outside"},
    {"hard link out", {"h", AE_IFREG, "", "/etc/passwd"}, "hard link"},
    {"hard link forward", {"h", AE_IFREG, "", "later"}, "hard link"},
    {"device", {"null", AE_IFCHR, "", ""}, "device"},
    {"fifo", {"p", AE_IFIFO, "", ""}, "FIFO"},
  };
  for (const auto& h : corpus) {
    INFO(h.label);
    auto in = dir.path() / "hostile.tar";
    write_archive(in, {{"fine.txt", AE_IFREG, "fine", ""}, h.m}, false);
    auto out = dir.path() / "out.tar";
    auto packed = pack_for_import(in, out);
    REQUIRE_FALSE(packed);
    CHECK(packed.err().code == error_code::invalid_argument);
    CHECK_THAT(packed.err().message, Catch::Contains(h.needle));
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("limits on entries and bytes are enforced", "[archive]") {
  test::temp_dir dir;
  auto in = dir.path() / "big.tar";
  write_archive(in,
                {{"a", AE_IFREG, std::string(1000, 'a'), ""},
                 {"b", AE_IFREG, std::string(1000, 'b'), ""},
                 {"c", AE_IFREG, "c", ""}},
                false);
  auto out = dir.path() / "out.tar";
  auto too_many = pack_for_import(in, out, {2, 1 << 20});
  REQUIRE_FALSE(too_many);
  CHECK(too_many.err().code == error_code::resource_exhausted);
  auto too_big = pack_for_import(in, out, {100, 1500});
  REQUIRE_FALSE(too_big);
  CHECK(too_big.err().code == error_code::resource_exhausted);
  CHECK(pack_for_import(in, out, {3, 2001}));
}

TEST_CASE("missing sources and non-archives are clear errors", "[archive]") {
  test::temp_dir dir;
  auto missing = pack_for_import(dir.path() / "nope", dir.path() / "o.tar");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == error_code::not_found);
  std::ofstream{dir.path() / "text.txt"} << "not an archive at all";
  auto text = pack_for_import(dir.path() / "text.txt", dir.path() / "o.tar");
  REQUIRE_FALSE(text);
  CHECK(text.err().code == error_code::invalid_argument);
  CHECK(safe_link_target("a/b", "../c"));
  CHECK_FALSE(safe_link_target("a", "../c"));
  CHECK_FALSE(safe_member_name("./"));
}

namespace {

// Extracts into a fresh directory `dest`, as an export does.
result<wire::unpack_totals> extract_to(const fs::path& tar,
                                       const fs::path& dest) {
  fs::create_directories(dest);
  sys::unique_fd fd{::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  REQUIRE(fd.get() >= 0);
  return extract_untrusted(tar, fd.get());
}

} // namespace

TEST_CASE("untrusted tars keep every link target and write nothing through "
          "a link",
          "[archive][export]") {
  test::temp_dir dir;
  auto in = dir.path() / "in.tar";
  write_archive(in,
                {{"d/", AE_IFDIR, "", ""},
                 {"d/f.txt", AE_IFREG, "data", ""},
                 {"d/l", AE_IFLNK, "", "f.txt"},
                 {"d/abs", AE_IFLNK, "", "/usr/lib/python3"},
                 {"d/up", AE_IFLNK, "", "../../../etc"},
                 {"d/hard", AE_IFREG, "", "d/f.txt"},
                 {"d/pipe", AE_IFIFO, "", ""}},
                false);
  auto dest = dir.path() / "out";
  auto got = extract_to(in, dest);
  INFO((got ? std::string{} : to_string(got.err())));
  REQUIRE(got);
  CHECK(got->entries == 7);
  CHECK(got->bytes == 4);
  std::ifstream f{dest / "d" / "f.txt"};
  std::string text{std::istreambuf_iterator<char>{f}, {}};
  CHECK(text == "data");
  CHECK(fs::read_symlink(dest / "d" / "l") == "f.txt");
  // Links are data: what the workspace made comes back as it was.
  CHECK(fs::read_symlink(dest / "d" / "abs") == "/usr/lib/python3");
  CHECK(fs::read_symlink(dest / "d" / "up") == "../../../etc");
  CHECK(fs::equivalent(dest / "d" / "hard", dest / "d" / "f.txt"));
  CHECK(fs::is_fifo(fs::symlink_status(dest / "d" / "pipe")));

  // A member below a link would be written wherever the link points.
  auto outside = dir.path() / "outside";
  fs::create_directories(outside);
  auto evil = dir.path() / "evil.tar";
  write_archive(evil,
                {{"ok.txt", AE_IFREG, "fine", ""},
                 {"x", AE_IFLNK, "", outside.string()},
                 {"x/planted", AE_IFREG, "gotcha", ""}},
                false);
  auto refused = extract_to(evil, dir.path() / "refused");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.err().message, Catch::Contains("x/planted"));
  CHECK_FALSE(fs::exists(outside / "planted"));
}

TEST_CASE("a member deeper than the limit is refused before anything of it "
          "is made",
          "[archive][export]") {
  test::temp_dir dir;
  std::string deep;
  for (int i = 0; i < 5000; ++i)
    deep += "d/";
  auto in = dir.path() / "deep.tar";
  write_archive(in, {{deep + "f", AE_IFREG, "x", ""}}, false);
  auto got = extract_to(in, dir.path() / "out");
  REQUIRE_FALSE(got);
  CHECK_THAT(got.err().message, Catch::Contains("deeper than 4096"));
  CHECK(fs::is_empty(dir.path() / "out"));
}

TEST_CASE("untrusted tars extract as plain files of the caller's",
          "[archive][export][content]") {
  test::temp_dir dir;
  auto in = dir.path() / "in.tar";
  constexpr time_t t = 1614834367;
  write_archive(in,
                {{"d/", AE_IFDIR, "", "", 0755, t - 100},
                 {"d/suid", AE_IFREG, "#!/bin/sh\n", "", 04755, t},
                 {"d/sgid/", AE_IFDIR, "", "", 02775, t + 1},
                 {"d/sticky/", AE_IFDIR, "", "", 01777, t + 2},
                 {"d/shared", AE_IFREG, "x", "", 0666, t + 3},
                 {"d/private", AE_IFREG, "x", "", 0600, t + 4}},
                false);
  auto dest = dir.path() / "out";
  auto got = extract_to(in, dest);
  INFO((got ? std::string{} : to_string(got.err())));
  REQUIRE(got);
  auto check = [&](const char* name, mode_t perm, time_t mtime) {
    INFO(name);
    struct stat st {};
    REQUIRE(::lstat((dest / name).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == perm);
    CHECK(st.st_uid == ::geteuid());
    CHECK(st.st_gid == ::getegid());
    CHECK(st.st_mtime == mtime);
  };
  check("d/suid", 0755, t);
  check("d/sgid", 0755, t + 1);
  check("d/sticky", 0755, t + 2);
  check("d/shared", 0644, t + 3);
  check("d/private", 0600, t + 4);
  // Set after its contents were written, or they would have moved it.
  check("d", 0755, t - 100);
}

TEST_CASE("a device node from a sandbox is refused by name",
          "[archive][export][content]") {
  test::temp_dir dir;
  for (mode_t type : {AE_IFCHR, AE_IFBLK}) {
    INFO(type);
    auto in = dir.path() / "in.tar";
    write_archive(
      in, {{"fine.txt", AE_IFREG, "fine", ""}, {"node", type, "", ""}}, false);
    auto got = extract_to(in, dir.path() / "out");
    REQUIRE_FALSE(got);
    CHECK(got.err().code == error_code::invalid_argument);
    CHECK_THAT(got.err().message, Catch::Contains("'node'"));
    // The hint is about this export, not an import.
    CHECK_THAT(got.err().hint, Catch::Contains("the sandbox sent it"));
    fs::remove_all(dir.path() / "out");
  }
}

TEST_CASE("names are bytes through import packing", "[archive][content]") {
  test::temp_dir dir;
  auto src = dir.path() / "src";
  // UTF-8, Latin-1 and bytes that are no encoding at all.
  std::vector<std::string> names{"h\xc3\xa9llo.txt", "caf\xe9", "\xff\xfe",
                                 std::string(200, 'n') + "\xe9"};
  for (const auto& n : names) {
    fs::create_directories(src);
    std::ofstream{src / n} << n;
  }
  auto packed = pack_for_import(src, dir.path() / "seed.tar");
  INFO((packed ? std::string{} : to_string(packed.err())));
  REQUIRE(packed);
  CHECK(packed->entries == names.size());
  auto dest = dir.path() / "back";
  auto got = extract_to(dir.path() / "seed.tar", dest);
  REQUIRE(got);
  for (const auto& n : names) {
    std::ifstream f{dest / n};
    std::string text{std::istreambuf_iterator<char>{f}, {}};
    CHECK(text == n);
  }
}
