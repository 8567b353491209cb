#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include <archive.h>
#include <archive_entry.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent_fixture.hpp"
#include "messages/wire/frame.hpp"
#include "messages/wire/tar.hpp"

using namespace pyro;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int raw_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// Processes on the host whose command line contains `marker`.
int count_processes(const std::string& marker) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{e.path() / "cmdline"};
    std::string cmd{std::istreambuf_iterator<char>{in}, {}};
    std::ifstream st{e.path() / "stat"};
    std::string stat{std::istreambuf_iterator<char>{st}, {}};
    if (cmd.find(marker) != std::string::npos
        && stat.find(") Z ") == std::string::npos)
      ++n;
  }
  return n;
}

struct member {
  std::string name;
  mode_t type = AE_IFREG;
  std::string content;
  std::string link;
};

std::string make_tar(const std::vector<member>& members) {
  std::string out;
  auto* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_options(a, "hdrcharset=BINARY"); // names are bytes
  archive_write_open(
    a, &out, nullptr,
    [](archive*, void* sink, const void* buf, size_t n) -> la_ssize_t {
      static_cast<std::string*>(sink)->append(static_cast<const char*>(buf), n);
      return static_cast<la_ssize_t>(n);
    },
    nullptr);
  for (const auto& m : members) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, m.type);
    archive_entry_set_perm(e, 0644);
    if (m.type == AE_IFLNK)
      archive_entry_set_symlink(e, m.link.c_str());
    else if (!m.link.empty())
      archive_entry_set_hardlink(e, m.link.c_str());
    bool data = m.type == AE_IFREG && m.link.empty();
    archive_entry_set_size(e, data ? static_cast<la_int64_t>(m.content.size())
                                   : 0);
    archive_write_header(a, e);
    if (data)
      archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

} // namespace

TEST_CASE_METHOD(test::agent_fixture, "hello reports version and operations",
                 "[agent]") {
  auto h = ok("hello");
  CHECK(h["agent"] == "pyro-agent");
  CHECK(h["protocol"] == 1);
  CHECK(h["mode"] == "host");
  CHECK(h["operations"].size() >= 10);
}

TEST_CASE_METHOD(test::agent_fixture,
                 "exec captures output, exit codes, env and cwd",
                 "[agent][exec]") {
  auto r = exec("echo out; echo err >&2; exit 7");
  CHECK(r["exit_code"] == 7);
  CHECK(r["stdout"] == "out\n");
  CHECK(r["stderr"] == "err\n");
  CHECK(r["timed_out"] == false);
  fs::create_directories(root / "workspace" / "sub");
  auto env = ok("exec", {{"command", "echo $GREETING; pwd"},
                         {"cwd", "/workspace/sub"},
                         {"env", {{"GREETING", "hi"}}}});
  CHECK(env["stdout"] == "hi\n" + (root / "workspace" / "sub").string() + "\n");
  auto argv = ok("exec", {{"argv", {"/bin/echo", "a b", "c"}}});
  CHECK(argv["stdout"] == "a b c\n");
  auto capped = ok(
    "exec", {{"command", "head -c 5000 /dev/zero"}, {"max_output_bytes", 100}});
  CHECK(capped["stdout"].get<std::string>().size() == 100);
  CHECK(capped["truncated"] == true);
  auto killed = exec("kill -TERM $$");
  CHECK(killed["signal"] == SIGTERM);
  auto bad_cwd = client.call("exec", {{"command", "true"}, {"cwd", "/etc"}});
  REQUIRE_FALSE(bad_cwd);
  CHECK(bad_cwd.err().code == error_code::invalid_argument);
}

TEST_CASE_METHOD(test::agent_fixture, "100 concurrent execs all succeed",
                 "[agent][exec][concurrency]") {
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 100; ++i)
    threads.emplace_back([&, i] {
      auto r = client.call("exec", {{"command", "echo " + std::to_string(i)}});
      if (r && (*r)["stdout"] == std::to_string(i) + "\n"
          && (*r)["exit_code"] == 0)
        ++good;
    });
  for (auto& t : threads)
    t.join();
  CHECK(good == 100);
}

TEST_CASE_METHOD(test::agent_fixture,
                 "a timeout kills the whole process group, grandchildren "
                 "included",
                 "[agent][exec][timeout]") {
  auto r = exec("sleep 97.531 & sleep 97.531", 1);
  CHECK(r["timed_out"] == true);
  CHECK(r["duration_ms"].get<int64_t>() >= 1000);
  CHECK(r["duration_ms"].get<int64_t>() < 3000);
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CHECK(count_processes("97.531") == 0);
  // Background leftovers of a command that finished go too.
  auto quick = exec("sleep 97.532 & echo done");
  CHECK(quick["stdout"] == "done\n");
  CHECK(quick["timed_out"] == false);
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CHECK(count_processes("97.532") == 0);
}

TEST_CASE("files are confined to /workspace, with and without openat2",
          "[agent][files][confinement]") {
  for (bool fallback : {false, true}) {
    INFO("fallback walk: " << fallback);
    test::agent_fixture f{fallback};
    auto written
      = f.upload("write", {{"path", "/workspace/a/b/c.txt"}}, "content\n");
    REQUIRE(written);
    auto read = f.download("read", {{"path", "a/b/c.txt"}});
    REQUIRE(read);
    CHECK(*read == "content\n");
    fs::create_symlink("/etc", f.root / "workspace" / "etc-link");
    fs::create_symlink("../..", f.root / "workspace" / "a" / "up");
    for (const char* path :
         {"../etc/passwd", "/etc/passwd", "etc-link/passwd", "a/up/etc/passwd",
          "a/up/root/workspace/a/b/c.txt"}) {
      INFO(path);
      auto r = f.download("read", {{"path", path}});
      REQUIRE_FALSE(r);
      CHECK(r.err().code == error_code::invalid_argument);
      auto w = f.upload("write", {{"path", path}}, "x");
      REQUIRE_FALSE(w);
    }
    CHECK_FALSE(fs::exists("/etc/passwd.pyro-tmp"));
    auto list = f.ok("list", {{"path", "/workspace"}, {"recursive", true}});
    // a, a/b, a/b/c.txt, a/up, etc-link
    CHECK(list["entries"].size() == 5);
    auto st = f.ok("stat", {{"path", "etc-link"}});
    CHECK(st["type"] == "symlink");
    CHECK(st["link_target"] == "/etc");
    f.ok("delete", {{"path", "a"}, {"recursive", true}});
    CHECK_FALSE(fs::exists(f.root / "workspace" / "a"));
    CHECK(fs::exists("/etc/passwd"));
  }
}

TEST_CASE_METHOD(test::agent_fixture, "read honours max_bytes",
                 "[agent][files]") {
  REQUIRE(upload("write", {{"path", "big"}}, std::string(1000, 'x')));
  std::string data;
  wire::chunk_sink sink = [&](std::string_view b) -> status {
    data.append(b);
    return {};
  };
  auto r
    = client.call("read", {{"path", "big"}, {"max_bytes", 10}}, nullptr, &sink);
  REQUIRE(r);
  CHECK(data == std::string(10, 'x'));
  CHECK((*r)["truncated"] == true);
  CHECK((*r)["size"] == 1000);
}

TEST_CASE_METHOD(test::agent_fixture,
                 "a 50 MiB export round trip keeps every byte",
                 "[agent][archive]") {
  std::string body(50u << 20, '\0');
  std::mt19937_64 rng{42};
  for (size_t i = 0; i + 8 <= body.size(); i += 8) {
    auto v = rng();
    std::memcpy(body.data() + i, &v, 8);
  }
  REQUIRE(upload("write", {{"path", "data/blob.bin"}}, body));
  auto tar = download("export", {{"path", "/workspace/data"}});
  REQUIRE(tar);
  size_t pos = 0;
  wire::tar_reader reader{[&](char* buf, size_t n) -> result<size_t> {
    auto take = std::min(n, tar->size() - pos);
    std::memcpy(buf, tar->data() + pos, take);
    pos += take;
    return take;
  }};
  std::string got;
  bool saw_dir = false;
  for (;;) {
    auto m = reader.next();
    REQUIRE(m);
    if (!*m)
      break;
    saw_dir = saw_dir || (**m).type == '5';
    if ((**m).name == "data/blob.bin") {
      char buf[65536];
      for (;;) {
        auto n = reader.read(buf, sizeof(buf));
        REQUIRE(n);
        if (*n == 0)
          break;
        got.append(buf, *n);
      }
    }
  }
  CHECK(saw_dir);
  CHECK(got.size() == body.size());
  CHECK(std::hash<std::string>{}(got) == std::hash<std::string>{}(body));
}

TEST_CASE_METHOD(test::agent_fixture,
                 "malicious archives are refused and change nothing",
                 "[agent][archive][security]") {
  REQUIRE(upload("write", {{"path", "keep.txt"}}, "keep\n"));
  auto manifest_before = download("manifest", json::object());
  REQUIRE(manifest_before);
  std::vector<std::pair<std::string, std::vector<member>>> corpus = {
    {"absolute", {{"ok", AE_IFREG, "1", ""}, {"/etc/x", AE_IFREG, "x", ""}}},
    {"dotdot", {{"ok", AE_IFREG, "1", ""}, {"a/../../x", AE_IFREG, "x", ""}}},
    {"hard link out", {{"h", AE_IFREG, "", "/etc/passwd"}}},
    {"hard link forward", {{"h", AE_IFREG, "", "later"}}},
    {"device", {{"ok", AE_IFREG, "1", ""}, {"dev", AE_IFCHR, "", ""}}},
    {"through symlink", {{"l", AE_IFLNK, "", "."}, {"l/x", AE_IFREG, "x", ""}}},
    {"through an absolute symlink",
     {{"l", AE_IFLNK, "", (root.parent_path() / "outside").string()},
      {"l/x", AE_IFREG, "x", ""}}},
  };
  for (const auto& [label, members] : corpus) {
    INFO(label);
    auto r = upload("import", {{"dest", "/workspace"}}, make_tar(members));
    REQUIRE_FALSE(r);
    CHECK((r.err().code == error_code::invalid_argument
           || r.err().code == error_code::resource_exhausted));
    auto after = download("manifest", json::object());
    REQUIRE(after);
    CHECK(*after == *manifest_before);
  }
  auto too_many = upload("import", {{"dest", "/workspace"}, {"max_entries", 2}},
                         make_tar({{"a", AE_IFREG, "1", ""},
                                   {"b", AE_IFREG, "2", ""},
                                   {"c", AE_IFREG, "3", ""}}));
  REQUIRE_FALSE(too_many);
  CHECK(too_many.err().code == error_code::resource_exhausted);
  CHECK(*download("manifest", json::object()) == *manifest_before);
  // No staging directory is left behind.
  for (const auto& e : fs::directory_iterator(root))
    CHECK(e.path().filename().string().find("staging") == std::string::npos);
  CHECK(agent_alive());
}

TEST_CASE_METHOD(test::agent_fixture,
                 "an agent that starts removes what a killed import staged",
                 "[agent][archive][leftovers]") {
  stop();
  fs::create_directories(root / ".pyro-staging-42" / "half" / "done");
  fs::create_directories(root / "keep-me");
  launch_agent();
  ok("hello");
  CHECK_FALSE(fs::exists(root / ".pyro-staging-42"));
  CHECK(fs::exists(root / "keep-me"));
}

TEST_CASE_METHOD(test::agent_fixture,
                 "imports keep any link target and FIFOs, as data",
                 "[agent][archive][content]") {
  auto r = upload("import", {{"dest", "/workspace"}},
                  make_tar({{"abs", AE_IFLNK, "", "/usr/lib/python3"},
                            {"up", AE_IFLNK, "", "../../../etc"},
                            {"p", AE_IFIFO, "", ""},
                            {"caf\xe9", AE_IFREG, "latin1", ""}}));
  INFO((r ? std::string{} : to_string(r.err())));
  REQUIRE(r);
  CHECK(fs::read_symlink(root / "workspace" / "abs") == "/usr/lib/python3");
  CHECK(fs::read_symlink(root / "workspace" / "up") == "../../../etc");
  CHECK(fs::is_fifo(fs::symlink_status(root / "workspace" / "p")));
  CHECK(fs::exists(root / "workspace" / "caf\xe9"));
  CHECK_FALSE(fs::exists(root.parent_path() / "outside"));
}

TEST_CASE_METHOD(test::agent_fixture,
                 "imports merge into the destination and the manifest sees "
                 "them",
                 "[agent][archive]") {
  auto r = upload("import", {{"dest", "/workspace/sub"}},
                  make_tar({{"dir/", AE_IFDIR, "", ""},
                            {"dir/f.txt", AE_IFREG, "hello", ""},
                            {"dir/l", AE_IFLNK, "", "f.txt"},
                            {"dir/h", AE_IFREG, "", "dir/f.txt"}}));
  REQUIRE(r);
  CHECK((*r)["entries"] == 4);
  auto m = json::parse(*download("manifest", json::object()));
  std::map<std::string, json> by_path;
  for (const auto& e : m["entries"])
    by_path[e["path"]] = e;
  CHECK(by_path["sub/dir/f.txt"]["hash"] == by_path["sub/dir/h"]["hash"]);
  CHECK(by_path["sub/dir/l"]["type"] == "symlink");
  CHECK(by_path["sub/dir/l"]["link_target"] == "f.txt");
  REQUIRE(upload("write", {{"path", "sub/dir/f.txt"}}, "changed"));
  auto m2 = json::parse(*download("manifest", json::object()));
  for (const auto& e : m2["entries"])
    if (e["path"] == "sub/dir/f.txt")
      CHECK(e["hash"] != by_path["sub/dir/f.txt"]["hash"]);
}

TEST_CASE_METHOD(test::agent_fixture,
                 "garbage, huge frame claims and hang-ups never hurt the "
                 "agent",
                 "[agent][robustness]") {
  {
    int fd = raw_connect(socket);
    std::string junk = "GET / HTTP/1.1\r\n\r\n";
    CHECK(::write(fd, junk.data(), junk.size()) > 0);
    auto reply = wire::read_frame(fd, 2000);
    // Either an error frame or a dropped connection; never a crash.
    if (reply)
      CHECK_THAT(reply->body, Catch::Contains("\"ok\":false"));
    ::close(fd);
  }
  {
    int fd = raw_connect(socket);
    unsigned char claim[5] = {'H', 0xFF, 0xFF, 0xFF, 0xFF}; // 4 GiB
    CHECK(::write(fd, claim, sizeof(claim)) == 5);
    auto reply = wire::read_frame(fd, 2000);
    if (reply)
      CHECK_THAT(reply->body, Catch::Contains("exceeds"));
    ::close(fd);
  }
  {
    int fd = raw_connect(socket);
    auto half
      = wire::encode_frame(wire::frame_kind::header, R"({"op":"hello","id":1})")
          .substr(0, 9);
    CHECK(::write(fd, half.data(), half.size()) == 9);
    ::close(fd); // hang up mid-frame
  }
  {
    int fd = raw_connect(socket);
    auto not_json = wire::encode_frame(wire::frame_kind::header, "[1,2");
    CHECK(::write(fd, not_json.data(), not_json.size()) > 0);
    auto reply = wire::read_frame(fd, 2000);
    REQUIRE(reply);
    CHECK_THAT(reply->body, Catch::Contains("not a JSON object"));
    ::close(fd);
  }
  // Fields of the wrong type are refused, not fatal (found by the fuzzer).
  for (const char* body :
       {R"({"op":2,"id":1})", R"({"op":"exec","id":"x"})",
        R"({"op":"exec","id":1,"timeout_seconds":"soon","command":"true"})",
        R"({"op":"read","id":1,"path":7})",
        R"({"op":"list","id":1,"path":"/workspace","recursive":"yes"})"}) {
    INFO(body);
    int fd = raw_connect(socket);
    auto frame = wire::encode_frame(wire::frame_kind::header, body);
    CHECK(::write(fd, frame.data(), frame.size()) > 0);
    auto reply = wire::read_frame(fd, 2000);
    REQUIRE(reply);
    CHECK_THAT(reply->body, Catch::Contains("\"ok\":false"));
    ::close(fd);
    REQUIRE(agent_alive());
  }
  auto unknown = client.call("frobnicate", json::object());
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.err().message, Catch::Contains("unknown op"));
  CHECK(agent_alive());
  CHECK(exec("echo fine")["stdout"] == "fine\n");
}

TEST_CASE_METHOD(test::agent_fixture,
                 "exec_cancel kills the tagged command's process group") {
  nlohmann::json result;
  std::thread runner{[&] {
    pyro::wire::agent_client own{socket};
    auto r = own.call(
      "exec", {{"command", "sleep 30 & sleep 30"}, {"cancel_tag", "job-1"}});
    if (r)
      result = *r;
  }};
  bool cancelled = false;
  auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && !cancelled; ++i) {
    cancelled = ok("exec_cancel", {{"cancel_tag", "job-1"}})["cancelled"];
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  runner.join();
  CHECK(cancelled);
  CHECK(result["signal"] == SIGKILL);
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds{10});
  CHECK(ok("exec_cancel", {{"cancel_tag", "job-1"}})["cancelled"] == false);
}
