#include "leak_check.hpp"

#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace pyro::test {

namespace fs = std::filesystem;

namespace {

bool zombie_or_gone(const std::string& pid) {
  auto stat = proc_text("/proc/" + pid + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

bool names_group(const std::string& cgroups, const std::string& id) {
  return cgroups.find("/pyro/" + id + "\n") != std::string::npos
         || cgroups.find("/pyro/" + id + "/") != std::string::npos;
}

} // namespace

std::string proc_text(const fs::path& path) {
  std::ifstream in{path};
  std::string out;
  for (char c; in.get(c);)
    out += c;
  return out;
}

std::vector<int> live_pids(const pid_filter& wanted) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos
        || zombie_or_gone(name))
      continue;
    if (wanted(e.path(), proc_text(e.path() / "cmdline")))
      out.push_back(std::stoi(name));
  }
  return out;
}

std::vector<int> sandbox_pids(const sandbox_fixture& f, const std::string& id) {
  auto dir = f.workspace_dir(id).string();
  return live_pids([&](const fs::path& proc, const std::string& cmdline) {
    return names_group(proc_text(proc / "cgroup"), id)
           || cmdline.find(dir) != std::string::npos;
  });
}

std::vector<std::string> leaks(const sandbox_fixture& f,
                               const std::string& id) {
  std::vector<std::string> out;
  for (int pid : sandbox_pids(f, id))
    out.push_back("process " + std::to_string(pid) + ": "
                  + proc_text("/proc/" + std::to_string(pid) + "/comm"));
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified",
                           "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu",
                           "/sys/fs/cgroup/pids"}) {
    auto group = fs::path{root} / "pyro" / id;
    std::error_code ec;
    if (fs::exists(group, ec))
      out.push_back("cgroup " + group.string());
  }
  auto dir = f.workspace_dir(id).string();
  std::istringstream mounts{proc_text("/proc/self/mountinfo")};
  for (std::string line; std::getline(mounts, line);)
    if (line.find(dir) != std::string::npos)
      out.push_back("mount " + line);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/block", ec)) {
    auto backing = proc_text(e.path() / "loop" / "backing_file");
    if (backing.find(dir) != std::string::npos)
      out.push_back("loop device " + e.path().filename().string());
  }
  if (fs::exists(f.home.path() / "locks" / (id + ".lock"), ec))
    out.push_back("lock file of " + id);
  if (fs::exists(f.workspace_dir(id), ec))
    out.push_back("workspace directory of " + id);
  return out;
}

std::vector<std::string> home_leftovers(const sandbox_fixture& f) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(f.home.path(), ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      break;
    if (it->is_directory(ec))
      continue;
    auto rel = fs::relative(it->path(), f.home.path()).string();
    // Kept by a home for itself, not by any one workspace: its resident
    // server and that server's parked sandboxes.
    if (rel == "secrets.key" || rel.rfind("environments/", 0) == 0
        || rel.rfind("server.", 0) == 0 || rel.rfind("pool/", 0) == 0)
      continue;
    out.push_back(rel);
  }
  return out;
}

int spawn_pyro(const sandbox_fixture& f, std::vector<std::string> args,
               served_by who) {
  args.insert(args.begin(), PYRO_BIN);
  std::vector<std::string> env{"PYRO_HOME=" + f.home.path().string(),
                               "PYRO_ENVIRONMENT_CACHE_DIR="
                                 + f.cache.path().string(),
                               "PYRO_BACKEND="};
  if (who == served_by::caller)
    env.push_back("PYRO_SERVER=off");
  for (char** e = environ; *e != nullptr; ++e) {
    std::string var{*e};
    if (var.rfind("PYRO_HOME=", 0) != 0
        && var.rfind("PYRO_ENVIRONMENT_CACHE_DIR=", 0) != 0
        && var.rfind("PYRO_BACKEND=", 0) != 0
        && var.rfind("PYRO_SERVER=", 0) != 0)
      env.push_back(var);
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(),
                         envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

bool wait_or_kill(int pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return false;
}

void kill_after(const sandbox_fixture& f, std::vector<std::string> args,
                std::chrono::milliseconds delay, served_by who) {
  wait_or_kill(spawn_pyro(f, std::move(args), who), delay);
}

std::vector<int> helper_pids(const sandbox_fixture& f) {
  auto home = f.home.path().string();
  return live_pids([&](const fs::path&, const std::string& cmdline) {
    return cmdline.find("pyro-sandbox") != std::string::npos
           && cmdline.find(home) != std::string::npos;
  });
}

} // namespace pyro::test
