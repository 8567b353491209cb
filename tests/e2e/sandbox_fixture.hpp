#pragma once

// End-to-end fixture: a private PYRO_HOME and environment cache holding the
// offline busybox environment, and the real `pyro` binary (with its agent
// and sandbox helper beside it) run as a user would run it.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../unit/run_process.hpp"
#include "../unit/temp_dir.hpp"

namespace pyro::test {

/// Builds the busybox test environment into `cache` the way an install
/// looks: rootfs/ plus a complete install.json.
inline void install_busybox_environment(const std::filesystem::path& cache) {
  namespace fs = std::filesystem;
  auto dir = cache / "busybox";
  auto rootfs = dir / "rootfs";
  fs::create_directories(rootfs / "bin");
  for (const char* d : {"workspace", "tmp", "etc", "root", "proc", "sys", "dev",
                        "run", "usr/bin"})
    fs::create_directories(rootfs / d);
  fs::copy_file("/bin/busybox", rootfs / "bin" / "busybox",
                fs::copy_options::overwrite_existing);
  auto applets = run_process({"/bin/busybox", "--list"});
  REQUIRE(applets.exit_code == 0);
  std::istringstream names{applets.out};
  for (std::string name; std::getline(names, name);)
    if (!name.empty() && name != "busybox")
      fs::create_symlink("busybox", rootfs / "bin" / name);
  std::ofstream{rootfs / "etc" / "passwd"} << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream{rootfs / "etc" / "group"} << "root:x:0:\n";
  std::ofstream{dir / "install.json"} << R"({"complete": true})";
}

struct sandbox_fixture {
  temp_dir home;
  temp_dir cache;

  sandbox_fixture() {
    install_busybox_environment(cache.path());
  }

  ~sandbox_fixture() {
    // Whatever a test left running goes with it.
    auto list = pyro({"workspace", "list", "--json"});
    auto j = nlohmann::json::parse(list.out, nullptr, false);
    if (j.is_object())
      for (const auto& w : j["workspaces"])
        pyro({"workspace", "delete", w["workspace_id"].get<std::string>()});
  }

  process_output pyro(std::vector<std::string> args) const {
    args.insert(args.begin(), PYRO_BIN);
    return run_process(args,
                       {{"PYRO_HOME", home.path().string()},
                        {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()},
                        {"PYRO_BACKEND", ""}});
  }

  nlohmann::json pyro_json(std::vector<std::string> args,
                           int expected_exit = 0) const {
    args.insert(std::find(args.begin(), args.end(), "--"), "--json");
    auto r = pyro(args);
    INFO("pyro " << args[0] << " ...\nstdout: " << r.out
                 << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == expected_exit);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
  }

  /// Creates a sandbox workspace on busybox and returns its id.
  std::string create(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"workspace", "create", "busybox"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto j = pyro_json(args);
    REQUIRE(j["backend"] == "sandbox");
    return j["workspace_id"].get<std::string>();
  }

  /// Runs a shell command in a workspace and returns the exec result.
  nlohmann::json exec(const std::string& id, const std::string& command,
                      int expected_exit = 0) const {
    return pyro_json({"workspace", "exec", id, "--", command}, expected_exit);
  }

  std::string out(const std::string& id, const std::string& command) const {
    auto j = exec(id, command);
    INFO(command << "\nstderr: " << j["stderr"].get<std::string>());
    CHECK(j["exit_code"] == 0);
    return j["stdout"].get<std::string>();
  }

  std::filesystem::path workspace_dir(const std::string& id) const {
    return home.path() / "workspaces" / id;
  }
};

} // namespace pyro::test
