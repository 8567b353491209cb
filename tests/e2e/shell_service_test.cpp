// Shells, services and secrets through the real CLI, in real sandboxes on
// the busybox environment: every call is a separate `pyro` process.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "sandbox_fixture.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct shell_fixture : pyro::test::sandbox_fixture {
  std::string ws = create();

  std::string open_shell(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"workspace", "shell", "open", ws,
                                  "--id-only"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = pyro(args);
    REQUIRE(r.exit_code == 0);
    auto id = r.out.substr(0, r.out.find('\n'));
    REQUIRE(id.rfind("shell-", 0) == 0);
    return id;
  }

  void type(const std::string& sh, const std::string& line) {
    pyro_json({"workspace", "shell", "write", ws, sh, "--input", line});
  }

  // Reads (plain or raw) until `needle` shows up; returns everything read.
  std::string read_until(const std::string& sh, const std::string& needle,
                         bool plain = false) {
    std::string seen;
    for (int i = 0; i < 100; ++i) {
      std::vector<std::string> args{
        "workspace", "shell", "read", ws, sh, "--wait-for-idle-ms", "100"};
      if (plain)
        args.push_back("--plain");
      seen = pyro_json(args)["output"].get<std::string>();
      if (seen.find(needle) != std::string::npos)
        return seen;
    }
    FAIL("never saw '" << needle << "' in: " << seen);
    return seen;
  }
};

} // namespace

TEST_CASE_METHOD(
  shell_fixture,
  "a sandbox shell has the size it asked for and renders plain") {
  auto sh = open_shell({"--cols", "91", "--rows", "33"});
  type(sh, "stty size; printf '\\033[1;31mRED\\033[0m abc\\rX\\bY\\n'");
  auto raw = read_until(sh, "RED");
  CHECK(raw.find("33 91") != std::string::npos);
  CHECK(raw.find("\x1b[1;31mRED") != std::string::npos);
  auto plain = read_until(sh, "RED", true);
  CHECK(plain.find('\x1b') == std::string::npos);
  CHECK(plain.find('\r') == std::string::npos);
  // "\033[..mRED\033[0m abc" drawn, then \r goes home, X overwrites R,
  // \b steps back onto X and Y overwrites it: "YED abc".
  CHECK(plain.find("YED abc") != std::string::npos);
  // Raw cursors are the same in both modes.
  auto a = pyro_json({"workspace", "shell", "read", ws, sh});
  auto b = pyro_json({"workspace", "shell", "read", ws, sh, "--plain"});
  CHECK(a["next_cursor"] == b["next_cursor"]);
}

TEST_CASE_METHOD(shell_fixture,
                 "INT interrupts sleep 100; the shell survives its opener") {
  auto sh = open_shell();
  type(sh, "echo GO-$((6*7)); sleep 100");
  read_until(sh, "GO-42");
  std::this_thread::sleep_for(200ms);
  auto began = std::chrono::steady_clock::now();
  pyro_json({"workspace", "shell", "signal", ws, sh, "--signal", "INT"});
  type(sh, "echo rc=$?");
  read_until(sh, "rc=130");
  CHECK(std::chrono::steady_clock::now() - began < 20s);
  SECTION("reset closes every shell") {
    pyro_json({"workspace", "reset", ws});
    auto r = pyro({"workspace", "shell", "read", ws, sh});
    CHECK(r.exit_code == 3); // not_found
    CHECK(r.err.find(sh) != std::string::npos);
  }
  SECTION("close ends it") {
    auto closed = pyro_json({"workspace", "shell", "close", ws, sh});
    CHECK(closed["closed"] == true);
  }
}

TEST_CASE_METHOD(shell_fixture, "services reach ready by each probe kind") {
  out(ws, "mkdir -p www && echo hello > www/index.html");
  struct probe {
    const char* name;
    std::vector<std::string> flags;
    std::string command;
  };
  std::vector<probe> probes{
    {"filer",
     {"--ready-file", "/tmp/up"},
     "sleep 0.3; touch /tmp/up; exec sleep 600"},
    {"tcp", {"--ready-tcp", "127.0.0.1:7001"}, "exec nc -ll -p 7001 -e cat"},
    {"web",
     {"--ready-http", "http://127.0.0.1:7002/index.html"},
     "exec httpd -f -p 127.0.0.1:7002 -h /workspace/www"},
    {"cmd",
     {"--ready-command", "test -s flag"},
     "sleep 0.3; echo 1 > flag; exec sleep 600"},
  };
  for (const auto& p : probes) {
    std::vector<std::string> args{"workspace", "service", "start",
                                  ws,          p.name,    "--ready-interval-ms",
                                  "100"};
    args.insert(args.end(), p.flags.begin(), p.flags.end());
    args.push_back("--");
    args.push_back(p.command);
    auto s = pyro_json(args);
    INFO(p.name << ": " << s.dump());
    CHECK(s["state"] == "ready");
  }
  auto failed = pyro_json({"workspace", "service", "start", ws, "never",
                           "--ready-file", "/tmp/never",
                           "--ready-timeout-seconds", "1", "--", "sleep 600"});
  CHECK(failed["state"] == "failed");
  auto status = pyro_json({"workspace", "status", ws});
  CHECK(status["service_counts"]["total"] == 5);
  CHECK(status["service_counts"]["ready"] == 4);
  CHECK(status["service_counts"]["failed"] == 1);
  // Service logs and metadata never show in a diff or an export.
  auto diff = pyro_json({"workspace", "diff", ws});
  for (const auto& e : diff["entries"])
    CHECK(e["path"].get<std::string>().find("pyro-services")
          == std::string::npos);
  auto stopped = pyro_json({"workspace", "service", "stop", ws, "web"});
  CHECK(stopped["state"] == "stopped");
  auto listed = pyro_json({"workspace", "service", "list", ws});
  CHECK(listed["services"].size() == 5);
}

// Whether any of `needles` occurs in the file, read in pieces: a
// workspace's disk image is gigabytes (sparse).
bool file_holds(const std::filesystem::path& path,
                const std::vector<std::string>& needles) {
  std::ifstream in{path, std::ios::binary};
  size_t longest = 0;
  for (const auto& n : needles)
    longest = std::max(longest, n.size());
  std::string window;
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size()))
         || in.gcount() > 0) {
    auto keep = window.size() < longest ? window.size() : longest;
    window = window.substr(window.size() - keep);
    window.append(buf.data(), static_cast<size_t>(in.gcount()));
    for (const auto& n : needles)
      if (window.find(n) != std::string::npos)
        return true;
  }
  return false;
}

TEST_CASE_METHOD(pyro::test::sandbox_fixture,
                 "a secret's value is found nowhere but its private store") {
  const std::string value = "s3cr3t-Value-9f2b7c";
  const std::string file_value = "from-a-file-77d1";
  pyro::test::temp_dir outside;
  std::ofstream{outside.path() / "db.txt"} << file_value;
  // A small disk, since every byte of it is searched below.
  auto ws = create({"--disk-mib", "128", "--secret", "API_TOKEN=" + value,
                    "--secret-file",
                    "DB_PASS=" + (outside.path() / "db.txt").string()});
  auto rec = pyro_json({"workspace", "status", ws});
  REQUIRE(rec["secrets"].size() == 2);
  CHECK(rec["secrets"][0]
        == json{{"name", "API_TOKEN"}, {"source_kind", "literal"}});
  CHECK(rec["secrets"][1]
        == json{{"name", "DB_PASS"}, {"source_kind", "file"}});
  auto from_file = pyro_json({"workspace", "exec", ws, "--secret-env",
                              "DB_PASS", "--", "echo db=$DB_PASS"});
  CHECK(from_file["stdout"] == "db=[REDACTED:DB_PASS]\n");
  // Exec output, the journal, a shell read, service logs and an error.
  auto run
    = pyro_json({"workspace", "exec", ws, "--secret-env", "API_TOKEN=TOK", "--",
                 "echo out=$TOK; echo err=$TOK >&2; echo " + value});
  CHECK(run["stdout"].get<std::string>().find("out=[REDACTED:API_TOKEN]")
        != std::string::npos);
  CHECK(run["stdout"].dump().find(value) == std::string::npos);
  CHECK(run["stderr"].dump().find(value) == std::string::npos);
  auto unasked
    = pyro_json({"workspace", "exec", ws, "--", "echo [${TOK}${API_TOKEN}]"});
  CHECK(unasked["stdout"] == "[]\n");
  auto bad
    = pyro({"workspace", "exec", ws, "--secret-env", "NOPE", "--", "true"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("API_TOKEN") != std::string::npos);
  std::string shell_out;
  {
    auto r = pyro({"workspace", "shell", "open", ws, "--id-only",
                   "--secret-env", "API_TOKEN"});
    REQUIRE(r.exit_code == 0);
    auto sh = r.out.substr(0, r.out.find('\n'));
    pyro_json({"workspace", "shell", "write", ws, sh, "--input",
               "echo shell=$API_TOKEN"});
    for (int i = 0;
         i < 50 && shell_out.find("shell=[REDACTED") == std::string::npos; ++i)
      shell_out = pyro({"workspace", "shell", "read", ws, sh,
                        "--wait-for-idle-ms", "100"})
                    .out;
  }
  CHECK(shell_out.find("shell=[REDACTED:API_TOKEN]") != std::string::npos);
  CHECK(shell_out.find(value) == std::string::npos);
  pyro_json({"workspace", "service", "start", ws, "leaky", "--secret-env",
             "API_TOKEN", "--", "echo svc=$API_TOKEN; exec sleep 600"});
  std::string logs;
  for (int i = 0; i < 50 && logs.find("svc=") == std::string::npos; ++i)
    logs = pyro_json({"workspace", "service", "logs", ws, "leaky"})["stdout"];
  CHECK(logs == "svc=[REDACTED:API_TOKEN]\n");
  auto journal = pyro({"workspace", "logs", ws, "--json"});
  CHECK(journal.out.find(value) == std::string::npos);
  // Reset and restart put the secret back.
  pyro_json({"workspace", "reset", ws});
  CHECK(out(ws, "cat /run/pyro-secrets/API_TOKEN | wc -c | tr -d ' '")
        == "19\n");
  // Every file under PYRO_HOME: only the private store holds the values.
  std::vector<std::string> holders;
  for (const auto& e : std::filesystem::recursive_directory_iterator(
         home.path(),
         std::filesystem::directory_options::skip_permission_denied)) {
    if (!e.is_regular_file() || e.is_symlink())
      continue;
    if (file_holds(e.path(), {value, file_value}))
      holders.push_back(e.path().lexically_relative(home.path()).string());
  }
  REQUIRE(holders.size() == 1);
  CHECK(holders[0] == "workspaces/" + ws + "/secrets/values.json");
  auto perms = std::filesystem::status(home.path() / holders[0]).permissions();
  CHECK((perms & std::filesystem::perms::all)
        == (std::filesystem::perms::owner_read
            | std::filesystem::perms::owner_write));
}
