// The MCP server under a fleet of agents, over Streamable HTTP:
//  1. N sessions (default 100) at once, each creating its own workspace and
//     running M `workspace_exec` calls (default 20) in it; beside them, the
//     same execs made one at a time through the C++ SDK in this process.
//  2. K sessions (default 1000) at once, each doing initialize, `ping` and
//     `tools/list`, all driven from one thread over kept-alive connections;
//     beside them, pings from one session alone through the same client.
// Targets: zero errors; p99 of ping under 50 ms.
//
//   mcp_fleet_bench [sessions=100] [execs=20] [ping_sessions=1000]

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "bench/support/latency.hpp"
#include "bench/support/mcp_client.hpp"
#include "bench/support/mcp_crowd.hpp"
#include "frontends/sdk/pyro.hpp"
#include "vmm/environment_install.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

double elapsed_us(clock_type::time_point since) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - since)
    .count();
}

struct shared_samples {
  std::mutex mtx;
  std::vector<double> us;
  std::atomic<int> errors{0};

  void add(double v) {
    std::lock_guard<std::mutex> guard{mtx};
    us.push_back(v);
  }
};

} // namespace

int main(int argc, char** argv) {
  int sessions = argc > 1 ? std::atoi(argv[1]) : 100;
  int execs = argc > 2 ? std::atoi(argv[2]) : 20;
  int ping_sessions = argc > 3 ? std::atoi(argv[3]) : 1000;
  std::string tmpl = "/tmp/pyro-fleet-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl.data());
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir / "cache").c_str(), 1);
  ::setenv("PYRO_HOME", (dir / "home").c_str(), 1);
  ::setenv("PYRO_BACKEND", "sandbox", 1);
  if (auto env = pyro::vmm::pull_environment("busybox"); !env) {
    std::fprintf(stderr, "%s\n", env.err().message.c_str());
    return 1;
  }
  auto [server, port] = pyro::bench::start_mcp_server();

  // Reference for (1): the same execs through the SDK, one at a time.
  pyro::Pyro sdk{pyro::pyro_options{dir / "home", std::chrono::minutes{5}}};
  pyro::create_request create;
  create.environment = "busybox";
  auto ws = sdk.create_workspace(create);
  if (!ws) {
    std::fprintf(stderr, "%s\n", ws.err().message.c_str());
    return 1;
  }
  pyro::exec_request exec;
  exec.command = "true";
  auto direct = pyro::bench::measure("sdk exec, one caller", 5, execs * 5, [&] {
    return static_cast<bool>(sdk.exec_workspace(ws->workspace_id, exec));
  });
  static_cast<void>(sdk.delete_workspace(ws->workspace_id));

  shared_samples exec_samples;
  std::vector<std::thread> threads;
  auto fleet_began = clock_type::now();
  for (int s = 0; s < sessions; ++s)
    threads.emplace_back([&] {
      pyro::bench::mcp_session mcp{port};
      if (!mcp.open()) {
        ++exec_samples.errors;
        return;
      }
      auto created = mcp.tool("workspace_create", {{"environment", "busybox"}});
      if (created.is_null()) {
        ++exec_samples.errors;
        return;
      }
      auto id = created["workspace_id"];
      for (int i = 0; i < execs; ++i) {
        auto began = clock_type::now();
        auto r = mcp.tool("workspace_exec",
                          {{"workspace_id", id}, {"command", "true"}});
        if (r.is_null() || r.value("exit_code", -1) != 0) {
          ++exec_samples.errors;
          std::fprintf(stderr, "exec failed: %s\n", r.dump().c_str());
        } else
          exec_samples.add(elapsed_us(began));
      }
      if (mcp.tool("workspace_delete", {{"workspace_id", id}}).is_null())
        ++exec_samples.errors;
      mcp.close();
    });
  for (auto& t : threads)
    t.join();
  threads.clear();
  auto fleet_s = elapsed_us(fleet_began) / 1e6;
  pyro::bench::samples fleet{"mcp exec, " + std::to_string(sessions)
                               + " sessions at once",
                             exec_samples.us};
  pyro::bench::report("workspace_exec through MCP over HTTP", {fleet}, direct);
  std::printf("fleet: %d sessions x %d execs in %.1f s, errors: %d\n", sessions,
              execs, fleet_s, exec_samples.errors.load());

  // (2) Many light sessions; the reference is one session alone, through
  // the same client. Every session is opened first; then all of them ping
  // and list tools at once, from one thread (bench/support/mcp_crowd.hpp).
  pyro::bench::samples lone{"ping, one session",
                            pyro::bench::lone_pings(port, 20, 500)};
  auto burst = pyro::bench::run_mcp_crowd({port, ping_sessions});
  pyro::bench::samples crowd{"ping, " + std::to_string(ping_sessions)
                               + " sessions at once",
                             burst.ping_us};
  pyro::bench::report("ping through MCP over HTTP", {crowd}, lone);
  std::printf("crowd: %d sessions, errors: open %d, ping %d, tools/list %d, "
              "delete %d; all pings sent in %.1f ms, pings and lists done in "
              "%.1f ms; p99 ping %.1f ms (target < 50 ms)\n",
              ping_sessions, burst.open_errors, burst.ping_errors,
              burst.list_errors, burst.close_errors, burst.send_ms,
              burst.burst_ms, crowd.p99() / 1000);
  pyro::bench::stop_mcp_server(server);
  std::error_code ec;
  fs::remove_all(dir, ec);
  int errors = exec_samples.errors + burst.errors() + (lone.us.empty() ? 1 : 0);
  return errors == 0 ? 0 : 1;
}
