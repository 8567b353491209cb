// The standing red team: pyro-hostile-probe, run as root inside a sandbox
// through the real CLI, tries every interface that reaches the host. Each
// case must come back refused; the table of what it tried is printed either
// way (ctest -V shows it).

#include <iostream>
#include <map>

#include "../e2e/sandbox_fixture.hpp"

using namespace pyro;
namespace fs = std::filesystem;

namespace {

struct probe_case {
  std::string category;
  std::string name;
  bool refused;
  std::string detail;
};

// Every category the probe reports; a missing one means it stopped early.
const std::vector<std::string> categories{
  "sysctl", "proc",       "host_paths",  "agent_socket", "ptrace",
  "mount",  "namespaces", "kernel",      "keyctl",       "bpf",
  "perf",   "io_uring",   "raw_sockets", "devices"};

std::vector<probe_case> parse(const std::string& out) {
  std::vector<probe_case> cases;
  std::istringstream lines{out};
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    INFO("probe line: " << line);
    REQUIRE(j.is_object());
    cases.push_back(
      {j.at("category"), j.at("case"), j.at("refused"), j.at("detail")});
  }
  return cases;
}

void print_table(const std::string& title,
                 const std::vector<probe_case>& cases) {
  std::map<std::string, std::pair<int, int>> counts;
  for (const auto& c : cases) {
    auto& [total, refused] = counts[c.category];
    ++total;
    refused += c.refused ? 1 : 0;
  }
  std::cout << "\n" << title << "\ncategory | cases | refused\n";
  for (const auto& name : categories) {
    auto [total, refused] = counts[name];
    std::cout << name << " | " << total << " | " << refused << "\n";
  }
  for (const auto& c : cases)
    if (!c.refused)
      std::cout << "  reachable: " << c.category << " / " << c.name << ": "
                << c.detail << "\n";
  std::cout << std::flush;
}

void require_all_refused(const std::vector<probe_case>& cases) {
  for (const auto& name : categories) {
    INFO("category " << name);
    CHECK(std::any_of(cases.begin(), cases.end(),
                      [&](const auto& c) { return c.category == name; }));
  }
  std::string reachable;
  size_t count = 0;
  for (const auto& c : cases)
    if (!c.refused) {
      ++count;
      reachable += "\n  " + c.category + " / " + c.name + ": " + c.detail;
    }
  INFO(count << " of " << cases.size() << " cases reachable:" << reachable);
  REQUIRE(count == 0);
}

// Paths of the host that the sandbox's mount table must not name.
std::vector<std::string> host_paths(const test::sandbox_fixture& f,
                                    const fs::path& extra) {
  return {f.home.path().string(), f.cache.path().string(), extra.string(),
          fs::path{PYRO_BIN}.parent_path().string(), PYRO_SOURCE_DIR};
}

std::string probe_command(const std::string& probe,
                          const std::vector<std::string>& paths) {
  std::string command = probe;
  for (const auto& p : paths)
    command += " '" + p + "'";
  return command;
}

std::vector<probe_case> cases_of(const nlohmann::json& result) {
  INFO("stderr: " << result["stderr"].get<std::string>());
  REQUIRE(result["exit_code"] == 0);
  CHECK(result["truncated"] != true);
  return parse(result["stdout"].get<std::string>());
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a hostile workload in a sandbox workspace reaches nothing "
                 "of the host",
                 "[e2e][hostile]") {
  test::temp_dir seed;
  fs::copy_file(PYRO_HOSTILE_PROBE, seed.path() / "pyro-hostile-probe");
  auto id = create({"--seed-path", seed.path().string()});
  // The CLI's exec has no plain environment option, so the paths go as
  // arguments.
  auto result
    = pyro_json({"workspace", "exec", id, "--timeout-seconds", "120", "--",
                 probe_command("/workspace/pyro-hostile-probe",
                               host_paths(*this, seed.path()))});
  auto cases = cases_of(result);
  print_table("workspace exec (sandbox)", cases);
  require_all_refused(cases);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a hostile one-shot run reaches nothing of the host",
                 "[e2e][hostile]") {
  // `run` takes no seed: the probe goes into the environment's root.
  auto rootfs = cache.path() / "busybox" / "rootfs";
  fs::copy_file(PYRO_HOSTILE_PROBE,
                rootfs / "usr" / "bin" / "pyro-hostile-probe");
  auto result = pyro_json(
    {"run", "busybox", "--backend", "sandbox", "--timeout-seconds", "120", "--",
     probe_command("/usr/bin/pyro-hostile-probe", host_paths(*this, rootfs))});
  auto cases = cases_of(result);
  print_table("run (sandbox)", cases);
  require_all_refused(cases);
}
