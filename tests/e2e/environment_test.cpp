#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "../environments/registry_fixture.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct env_fixture {
  test::temp_dir home;
  test::temp_dir cache;

  test::process_output pyro(std::vector<std::string> args) const {
    args.insert(args.begin(), PYRO_BIN);
    return test::run_process(
      args, {{"PYRO_HOME", home.path().string()},
             {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()}});
  }

  json pyro_json(std::vector<std::string> args, int expected = 0) const {
    args.insert(std::find(args.begin(), args.end(), "--"), "--json");
    auto r = pyro(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == expected);
    return json::parse(r.out);
  }
};

} // namespace

TEST_CASE_METHOD(env_fixture,
                 "the busybox environment builds offline and runs the agent",
                 "[e2e][environments]") {
  auto pull = pyro({"env", "pull", "busybox"});
  REQUIRE(pull.exit_code == 0);
  CHECK_THAT(pull.err, Catch::Contains("[pull] phase=build environment=busybox")
                         && Catch::Contains("[pull] phase=ready"));
  auto info = pyro_json({"env", "inspect", "busybox"});
  CHECK(info["installed"] == true);
  CHECK(info["source"] == "busybox");
  auto rootfs = fs::path{info["path"].get<std::string>()} / "rootfs";
  auto echo = test::run_process({(rootfs / "bin" / "echo").string(), "hi"});
  CHECK(echo.out == "hi\n");
  auto agent = test::run_process(
    {(rootfs / "usr" / "lib" / "pyro" / "pyro-agent").string(), "--version"});
  CHECK_THAT(agent.out, Catch::StartsWith("pyro-agent"));
  // A second pull finds it installed.
  auto again = pyro({"env", "pull", "busybox"});
  CHECK_THAT(again.err, Catch::Contains("cached=yes"));
  CHECK(pyro_json({"env", "list", "--all"})["environments"].size() == 4);
}

TEST_CASE_METHOD(env_fixture,
                 "an interrupted pull leaves nothing installed and the next "
                 "repairs it",
                 "[e2e][environments]") {
  // A staging directory and a half-written install, as a killed pull
  // leaves them.
  fs::create_directories(cache.path() / ".staging-busybox-99999" / "rootfs");
  fs::create_directories(cache.path() / "busybox" / "rootfs");
  std::ofstream{cache.path() / "busybox" / "install.json"}
    << R"({"complete": false})";
  CHECK(pyro_json({"env", "inspect", "busybox"})["installed"] == false);
  pyro_json({"env", "pull", "busybox"});
  CHECK(pyro_json({"env", "inspect", "busybox"})["installed"] == true);
  CHECK_FALSE(fs::exists(cache.path() / ".staging-busybox-99999"));
  CHECK(fs::exists(cache.path() / "busybox" / "rootfs" / "bin" / "busybox"));
}

TEST_CASE_METHOD(env_fixture, "two processes pulling at once do the work once",
                 "[e2e][environments]") {
  test::process_output a;
  test::process_output b;
  std::thread first{[&] {
    a = pyro({"env", "pull", "busybox"});
  }};
  std::thread second{[&] {
    b = pyro({"env", "pull", "busybox"});
  }};
  first.join();
  second.join();
  CHECK(a.exit_code == 0);
  CHECK(b.exit_code == 0);
  int built = 0;
  for (const auto* r : {&a, &b})
    built += r->err.find("phase=build") != std::string::npos ? 1 : 0;
  CHECK(built == 1);
}

TEST_CASE_METHOD(env_fixture,
                 "prune removes unused environments, never one in use",
                 "[e2e][environments]") {
  pyro_json({"env", "pull", "busybox"});
  auto ws = pyro_json({"workspace", "create", "busybox"});
  auto kept = pyro_json({"env", "prune"});
  CHECK(kept["count"] == 0);
  CHECK(pyro_json({"env", "inspect", "busybox"})["installed"] == true);
  pyro_json({"workspace", "delete", ws["workspace_id"].get<std::string>()});
  auto pruned = pyro_json({"env", "prune"});
  REQUIRE(pruned["removed"].size() == 1);
  CHECK(pruned["removed"][0]["name"] == "busybox");
  CHECK(pyro_json({"env", "inspect", "busybox"})["installed"] == false);
}

TEST_CASE("a workspace in one PYRO_HOME keeps its environment from a prune "
          "in another that shares the cache",
          "[e2e][environments]") {
  env_fixture first;
  // A second home on the first one's cache.
  test::temp_dir second_home;
  auto second = [&](std::vector<std::string> args, int expected = 0) {
    args.insert(args.begin(), {PYRO_BIN, "--json"});
    auto r = test::run_process(
      args, {{"PYRO_HOME", second_home.path().string()},
             {"PYRO_ENVIRONMENT_CACHE_DIR", first.cache.path().string()}});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == expected);
    return json::parse(r.out);
  };
  first.pyro_json({"env", "pull", "busybox"});
  auto ws = first.pyro_json({"workspace", "create", "busybox"});
  // The create left a marker naming its home.
  bool marked = false;
  for (const auto& e : fs::directory_iterator(first.cache.path() / ".users")) {
    std::ifstream in{e.path()};
    auto j = json::parse(in);
    marked = marked
             || (j["environment"] == "busybox"
                 && j["pyro_home"]
                      == fs::canonical(first.home.path()).string());
  }
  CHECK(marked);
  auto kept = second({"env", "prune"});
  CHECK(kept["count"] == 0);
  CHECK(first.pyro_json({"env", "inspect", "busybox"})["installed"] == true);
  first.pyro_json({"workspace", "delete", ws["workspace_id"].get<std::string>()});
  auto pruned = second({"env", "prune"});
  REQUIRE(pruned["removed"].size() == 1);
  CHECK(pruned["removed"][0]["name"] == "busybox");
}

TEST_CASE_METHOD(env_fixture,
                 "debian:12-base builds with mmdebstrap from the host's apt "
                 "sources",
                 "[e2e][environments][slow]") {
  auto pull = pyro({"env", "pull", "debian:12-base"});
  INFO(pull.err);
  REQUIRE(pull.exit_code == 0);
  auto info = pyro_json({"env", "inspect", "debian:12-base"});
  CHECK(info["installed"] == true);
  CHECK(info["source"] == "mmdebstrap");
  auto rootfs = fs::path{info["path"].get<std::string>()} / "rootfs";
  CHECK(fs::exists(rootfs / "bin" / "bash"));
  CHECK(fs::exists(rootfs / "workspace"));
  auto ws = pyro_json({"workspace", "create", "debian:12-base"});
  auto id = ws["workspace_id"].get<std::string>();
  auto r
    = pyro_json({"workspace", "exec", id, "--",
                 "bash -c 'echo $BASH_VERSION' && cat /etc/debian_version"});
  CHECK_THAT(r["stdout"].get<std::string>(), Catch::Contains("12."));
  pyro_json({"workspace", "delete", id});
}

TEST_CASE("an environment pushed to a registry is pulled by another cache "
          "and runs workspaces",
          "[e2e][environments][registry]") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  env_fixture builder;
  auto pushed = builder.pyro({"env", "pull", "busybox"});
  REQUIRE(pushed.exit_code == 0);
  auto reference = registry.host() + "/pyro/busybox:latest";
  auto push = builder.pyro_json({"env", "push", "busybox", reference});
  CHECK_THAT(push["manifest_digest"].get<std::string>(),
             Catch::StartsWith("sha256:"));

  env_fixture other; // a second host: empty cache, registry configured
  auto env = std::map<std::string, std::string>{
    {"PYRO_HOME", other.home.path().string()},
    {"PYRO_ENVIRONMENT_CACHE_DIR", other.cache.path().string()},
    {"PYRO_REGISTRY", "http://" + registry.host() + "/pyro"}};
  auto pull = test::run_process({PYRO_BIN, "env", "pull", "busybox"}, env);
  INFO(pull.err);
  REQUIRE(pull.exit_code == 0);
  CHECK_THAT(pull.err, Catch::Contains("phase=download")
                         && Catch::Contains("phase=verify"));
  CHECK_THAT(pull.err, !Catch::Contains("phase=build"));
  auto inspect
    = test::run_process({PYRO_BIN, "--json", "env", "inspect", "busybox"}, env);
  auto info = json::parse(inspect.out);
  CHECK(info["installed"] == true);
  CHECK_THAT(info["source"].get<std::string>(), Catch::Contains(reference));
  auto created = test::run_process(
    {PYRO_BIN, "--json", "workspace", "create", "busybox"}, env);
  REQUIRE(created.exit_code == 0);
  auto id = json::parse(created.out)["workspace_id"].get<std::string>();
  auto ran = test::run_process(
    {PYRO_BIN, "--json", "workspace", "exec", id, "--", "echo pulled"}, env);
  CHECK(json::parse(ran.out)["stdout"] == "pulled\n");
  test::run_process({PYRO_BIN, "workspace", "delete", id}, env);
}
