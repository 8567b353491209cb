#include "vmm/sandbox/cgroups.hpp"

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <csignal>

#include <unistd.h>

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

constexpr int cpu_period_us = 100000;
constexpr int pids_max = 4096;

bool write_value(const fs::path& file, const std::string& value) {
  std::ofstream out{file};
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

std::string read_value(const fs::path& file) {
  std::ifstream in{file};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in{text};
  for (std::string w; in >> w;)
    if (w == word)
      return true;
  return false;
}

fs::path unified_root() {
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    auto controllers = read_value(fs::path{root} / "cgroup.controllers");
    if (has_word(controllers, "cpu") && has_word(controllers, "memory")
        && ::access(root, W_OK) == 0)
      return root;
  }
  return {};
}

cgroup_limits apply_v2(const fs::path& root, const std::string& id, pid_t pid,
                       int vcpu_count, int mem_mib) {
  cgroup_limits out;
  std::error_code ec;
  auto parent = root / "pyro";
  fs::create_directories(parent, ec);
  write_value(root / "cgroup.subtree_control", "+cpu +memory +pids");
  write_value(parent / "cgroup.subtree_control", "+cpu +memory +pids");
  auto dir = parent / id;
  fs::create_directories(dir, ec);
  if (ec) {
    out.note = "cannot create " + dir.string() + ": " + ec.message();
    return out;
  }
  out.paths.push_back(dir.string());
  out.memory
    = write_value(dir / "memory.max", std::to_string(int64_t{mem_mib} << 20));
  write_value(dir / "memory.swap.max", "0");
  out.cpu
    = write_value(dir / "cpu.max", std::to_string(vcpu_count * cpu_period_us)
                                     + " " + std::to_string(cpu_period_us));
  out.pids = write_value(dir / "pids.max", std::to_string(pids_max));
  if (!write_value(dir / "cgroup.procs", std::to_string(pid)))
    out = cgroup_limits{false, false, false, out.paths,
                        "cannot move the sandbox into " + dir.string()};
  return out;
}

cgroup_limits apply_v1(const std::string& id, pid_t pid, int vcpu_count,
                       int mem_mib) {
  cgroup_limits out;
  auto join = [&](const char* controller) -> fs::path {
    auto dir = fs::path{"/sys/fs/cgroup"} / controller / "pyro" / id;
    std::error_code ec;
    if (::access((fs::path{"/sys/fs/cgroup"} / controller).c_str(), W_OK) != 0)
      return {};
    fs::create_directories(dir, ec);
    if (ec)
      return {};
    out.paths.push_back(dir.string());
    if (!write_value(dir / "cgroup.procs", std::to_string(pid)))
      return {};
    return dir;
  };
  if (auto dir = join("memory"); !dir.empty())
    out.memory = write_value(dir / "memory.limit_in_bytes",
                             std::to_string(int64_t{mem_mib} << 20));
  if (auto dir = join("cpu"); !dir.empty())
    out.cpu
      = write_value(dir / "cpu.cfs_period_us", std::to_string(cpu_period_us))
        && write_value(dir / "cpu.cfs_quota_us",
                       std::to_string(vcpu_count * cpu_period_us));
  if (auto dir = join("pids"); !dir.empty())
    out.pids = write_value(dir / "pids.max", std::to_string(pids_max));
  return out;
}

// cgroup directories are removed with rmdir; their files are virtual. A
// process that was just killed can keep its cgroup busy for a moment after
// it stops counting as alive, so EBUSY is retried for up to half a second.
void remove_when_empty(const fs::path& dir) {
  for (int tries = 0; tries < 250; ++tries) {
    if (::rmdir(dir.c_str()) == 0 || errno != EBUSY)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
}

// Where a sandbox's cgroups may live: every hierarchy pyro uses.
std::vector<fs::path> candidate_dirs(const std::string& id) {
  std::vector<fs::path> out;
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
    out.push_back(fs::path{root} / "pyro" / id);
  for (const char* controller : {"memory", "cpu", "pids"})
    out.push_back(fs::path{"/sys/fs/cgroup"} / controller / "pyro" / id);
  return out;
}

// A writable cgroup v2 mount, with or without controllers.
fs::path v2_root() {
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
    if (fs::exists(fs::path{root} / "cgroup.subtree_control")
        && ::access(root, W_OK) == 0)
      return root;
  return {};
}

std::vector<pid_t> members(const fs::path& dir) {
  std::vector<pid_t> out;
  std::ifstream in{dir / "cgroup.procs"};
  for (pid_t pid; in >> pid;)
    out.push_back(pid);
  return out;
}

void kill_tree(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return;
  // cgroup.kill takes the whole subtree at once, forks racing it included.
  if (write_value(dir / "cgroup.kill", "1"))
    return;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec))
      kill_tree(e.path());
  for (int round = 0; round < 100; ++round) {
    auto pids = members(dir);
    if (pids.empty())
      return;
    for (pid_t pid : pids)
      ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
}

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec))
      remove_tree(e.path());
  remove_when_empty(dir);
}

} // namespace

std::string command_cgroup(const std::string& id) {
  if (::geteuid() != 0)
    return {};
  auto root = v2_root();
  if (root.empty())
    root = "/sys/fs/cgroup/pids"; // v1 only: the agent kills by listing
  auto dir = root / "pyro" / id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? std::string{} : dir.string();
}

std::string delegate_cgroup(const std::string& id, pid_t pid, uid_t uid,
                            gid_t gid) {
  fs::path dir = command_cgroup(id);
  if (dir.empty() || !write_value(dir / "cgroup.procs", std::to_string(pid)))
    return {};
  for (const char* file : {"", "cgroup.procs", "cgroup.threads",
                           "cgroup.subtree_control", "tasks"}) {
    auto path = *file ? dir / file : dir;
    if (::chown(path.c_str(), uid, gid) != 0 && errno != ENOENT)
      return {};
  }
  return dir.string();
}

void kill_cgroups(const std::string& id) {
  for (const auto& dir : candidate_dirs(id))
    kill_tree(dir);
}

cgroup_limits apply_cgroup_limits(const std::string& id, pid_t pid,
                                  int vcpu_count, int mem_mib) {
  if (auto root = unified_root(); !root.empty())
    return apply_v2(root, id, pid, vcpu_count, mem_mib);
  auto out = apply_v1(id, pid, vcpu_count, mem_mib);
  if (!out.cpu || !out.memory)
    out.note = "no writable cgroup hierarchy with cpu and memory controllers";
  return out;
}

void remove_cgroups(const std::string& id) {
  for (const auto& dir : candidate_dirs(id))
    remove_tree(dir);
}

} // namespace pyro::vmm
