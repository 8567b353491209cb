// The sandbox backend for a user who is not root: a user namespace maps
// only that user (as root inside); everything else works as for root.
// Runs pyro as `nobody` from a copy of the binaries in a directory that
// user owns, so the build tree's location does not matter.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "../unit/run_process.hpp"
#include "../unit/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* nobody = "65534";

struct unprivileged_fixture {
  pyro::test::temp_dir dir;

  unprivileged_fixture() {
    auto bin = fs::path{PYRO_BIN}.parent_path();
    fs::create_directories(dir.path() / "bin");
    for (const char* name :
         {"pyro", "pyro-runtime", "pyro-agent", "pyro-sandbox"})
      fs::copy_file(bin / name, dir.path() / "bin" / name);
    for (const auto& e : fs::recursive_directory_iterator(dir.path()))
      REQUIRE(::lchown(e.path().c_str(), 65534, 65534) == 0);
    REQUIRE(::chown(dir.path().c_str(), 65534, 65534) == 0);
  }

  ~unprivileged_fixture() {
    auto list = pyro({"workspace", "list", "--json"});
    auto j = json::parse(list.out, nullptr, false);
    if (j.is_object())
      for (const auto& w : j["workspaces"])
        pyro({"workspace", "delete", w["workspace_id"].get<std::string>()});
  }

  pyro::test::process_output pyro(std::vector<std::string> args) const {
    std::vector<std::string> argv{
      "/usr/bin/setpriv", std::string{"--reuid="} + nobody,
      std::string{"--regid="} + nobody, "--clear-groups",
      (dir.path() / "bin" / "pyro").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return pyro::test::run_process(
      argv, {{"HOME", dir.path().string()},
             {"PYRO_HOME", (dir.path() / "home").string()},
             {"PYRO_ENVIRONMENT_CACHE_DIR", (dir.path() / "cache").string()},
             {"PYRO_BACKEND", ""}});
  }

  json pyro_json(std::vector<std::string> args) const {
    args.insert(std::find(args.begin(), args.end(), "--"), "--json");
    auto r = pyro(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }
};

std::string status_field(pid_t pid, const std::string& key) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields{line.substr(key.size() + 1)};
      std::string first;
      fields >> first;
      return first;
    }
  return {};
}

} // namespace

TEST_CASE_METHOD(unprivileged_fixture,
                 "a user who is not root gets a working, isolated sandbox") {
  REQUIRE(::geteuid() == 0); // the test itself drops to nobody
  pyro_json({"env", "pull", "busybox"});
  auto created = pyro_json({"workspace", "create", "busybox"});
  CHECK(created["backend"] == "sandbox");
  auto id = created["workspace_id"].get<std::string>();
  auto run = [&](const std::string& command) {
    auto r = pyro_json({"workspace", "exec", id, "--", command});
    INFO(command << ": " << r["stderr"]);
    return r;
  };
  // Root inside, nobody outside, and only nobody mapped.
  CHECK(run("id -u")["stdout"] == "0\n");
  auto map = run("cat /proc/self/uid_map")["stdout"].get<std::string>();
  std::istringstream fields{map};
  std::string inside, outside, count;
  fields >> inside >> outside >> count;
  CHECK(inside == "0");
  CHECK(outside == nobody);
  CHECK(count == "1");
  // On the host, the sandbox's PID 1 runs as nobody.
  auto pid_file = dir.path() / "home/workspaces" / id / "runtime/pid.json";
  std::ifstream in{pid_file};
  auto identity = json::parse(in);
  auto host_pid = identity["pid"].get<pid_t>();
  CHECK(status_field(host_pid, "Uid") == nobody);
  // Confinement holds as for root: no mounts, a private hostname.
  CHECK(run("mount -t tmpfs x /tmp 2>/dev/null || echo refused")["stdout"]
        == "refused\n");
  CHECK(run("hostname")["stdout"] == id + "\n");
  // The data plane works: a write shows in the diff, a shell has a pty.
  run("echo made-by-nobody > note.txt");
  auto diff = pyro_json({"workspace", "diff", id});
  CHECK(diff["summary"]["added"] == 1);
  auto shell = pyro({"workspace", "shell", "open", id, "--id-only"});
  CHECK(shell.exit_code == 0);
  auto deleted = pyro_json({"workspace", "delete", id});
  CHECK(deleted["deleted"] == true);
  CHECK_FALSE(fs::exists(dir.path() / "home/workspaces" / id));
  // Gone, or only a zombie awaiting the host's init.
  auto state = status_field(host_pid, "State");
  CHECK((state.empty() || state == "Z"));
  SECTION("egress needs /dev/net/tun, and says so when it is closed") {
    auto r = pyro({"workspace", "create", "busybox", "--network-policy",
                   "egress", "--json"});
    if (::access("/dev/net/tun", R_OK | W_OK) == 0
        && (fs::status("/dev/net/tun").permissions() & fs::perms::others_write)
             == fs::perms::none) {
      CHECK(r.exit_code == 6);
      CHECK(r.out.find("/dev/net/tun") != std::string::npos);
    } else {
      CHECK(r.exit_code == 0);
    }
  }
}
