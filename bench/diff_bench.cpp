// Diff of a 10,000-file, 100 MiB workspace with 10 changed files against
// its baseline, beside `git diff --no-index --stat` over the same two trees
// on the host, in one run. Target: < 300 ms and faster than git.

#include <filesystem>
#include <fstream>
#include <random>

#include <fcntl.h>

#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/latency.hpp"
#include "frontends/sdk/pyro.hpp"
#include "vmm/environment_install.hpp"

namespace fs = std::filesystem;

namespace {

void write_tree(const fs::path& root, int files, size_t bytes) {
  std::mt19937_64 rng{7};
  std::string body(bytes, '\0');
  for (int i = 0; i < files; ++i) {
    auto dir = root / ("d" + std::to_string(i / 100));
    fs::create_directories(dir);
    for (size_t k = 0; k + 8 <= body.size(); k += 8) {
      auto v = rng() % 26 + 'a';
      std::fill_n(body.begin() + static_cast<long>(k), 8, static_cast<char>(v));
    }
    body.back() = '\n';
    std::ofstream{dir / ("f" + std::to_string(i) + ".txt")} << body;
  }
}

bool git_diff_stat(const fs::path& a, const fs::path& b) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::execlp("git", "git", "diff", "--no-index", "--stat", a.c_str(), b.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  // git diff --no-index exits 1 when the trees differ.
  return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 10;
  int files = argc > 2 ? std::atoi(argv[2]) : 10000;
  std::string tmpl = "/tmp/pyro-bench-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl.data());
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir / "cache").c_str(), 1);
  ::setenv("PYRO_BACKEND", "sandbox", 1);
  if (auto env = pyro::vmm::pull_environment(
        "busybox", {}, false, pyro::vmm::vm_images_policy::never);
      !env) {
    std::fprintf(stderr, "%s\n", env.err().message.c_str());
    return 1;
  }
  auto before = dir / "before";
  write_tree(before, files, 10 * 1024);
  pyro::Pyro sdk{pyro::pyro_options{dir / "home", std::chrono::minutes{5}}};
  pyro::create_request create;
  create.environment = "busybox";
  create.seed_path = before.string();
  auto ws = sdk.create_workspace(create);
  if (!ws) {
    std::fprintf(stderr, "%s\n", ws.err().message.c_str());
    return 1;
  }
  pyro::exec_request change;
  change.command = "for i in 0 1 2 3 4 5 6 7 8 9; do "
                   "echo changed >> d$i/f$((i * 100)).txt; done";
  if (auto r = sdk.exec_workspace(ws->workspace_id, change);
      !r || r->outcome.exit_code != 0)
    return 1;
  auto after = dir / "after";
  fs::copy(before, after, fs::copy_options::recursive);
  for (int i = 0; i < 10; ++i)
    std::ofstream{after / ("d" + std::to_string(i))
                    / ("f" + std::to_string(i * 100) + ".txt"),
                  std::ios::app}
      << "changed\n";

  auto git = pyro::bench::measure("git diff --no-index --stat", 1, runs,
                                  [&] { return git_diff_stat(before, after); });
  auto pyro_diff = pyro::bench::measure(
    "pyro workspace diff (10 of " + std::to_string(files) + " changed)", 1,
    runs, [&] {
      auto d = sdk.diff_workspace(ws->workspace_id);
      return d && d->summary.modified == 10;
    });
  pyro::bench::report("workspace diff, " + std::to_string(files)
                        + " files of 10 KiB",
                      {git, pyro_diff}, git);
  static_cast<void>(sdk.delete_workspace(ws->workspace_id));
  fs::remove_all(dir);
  return pyro_diff.us.size() == static_cast<size_t>(runs) ? 0 : 1;
}
