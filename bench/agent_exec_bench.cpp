// Exec round trip of /bin/true through the agent (host mode, Unix socket),
// beside a bare fork+exec+wait of /bin/true measured in the same run.
// Target: p50 within 2x of that floor.

#include <csignal>
#include <filesystem>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/latency.hpp"
#include "messages/wire/agent_client.hpp"

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 2000;
  namespace fs = std::filesystem;
  std::string dir_template = "/tmp/pyro-bench-XXXXXX";
  fs::path dir = ::mkdtemp(dir_template.data());
  fs::create_directories(dir / "root" / "workspace");
  auto socket = (dir / "agent.sock").string();
  auto agent = fs::read_symlink("/proc/self/exe").parent_path() / "pyro-agent";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(agent.c_str(), agent.c_str(), "--listen",
            ("unix:" + socket).c_str(), "--root", (dir / "root").c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  while (!fs::exists(socket))
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  pyro::wire::agent_client client{socket};
  nlohmann::json request{{"argv", {"/bin/true"}}};

  auto floor = pyro::bench::measure("fork+exec+wait /bin/true", 50, runs, [] {
    pid_t child = ::fork();
    if (child == 0) {
      ::execl("/bin/true", "/bin/true", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  });
  auto through_agent
    = pyro::bench::measure("agent exec /bin/true (round trip)", 50, runs, [&] {
        auto r = client.call("exec", request);
        return r && (*r)["exit_code"] == 0;
      });
  pyro::bench::report("exec round trip through the agent",
                      {floor, through_agent}, floor);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  return through_agent.us.size() == static_cast<size_t>(runs) ? 0 : 1;
}
