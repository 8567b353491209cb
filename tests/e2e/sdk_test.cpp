#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "frontends/sdk/pyro.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
namespace fs = std::filesystem;

TEST_CASE_METHOD(test::sandbox_fixture,
                 "the C++ SDK drives a workspace end to end", "[e2e][sdk]") {
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache.path().c_str(), 1);
  Pyro sdk{pyro_options{home.path(), std::chrono::minutes{2}}};
  create_request request;
  request.environment = "busybox";
  request.name = "sdk";
  request.labels = {{"team", "core"}};
  std::vector<std::string> progress;
  auto ws = sdk.create_workspace(
    request, [&](const std::string& line) { progress.push_back(line); });
  REQUIRE(ws);
  CHECK(ws->backend == "sandbox");
  CHECK(ws->execution_mode == "sandbox");
  CHECK(progress.back().find("phase=ready") != std::string::npos);
  REQUIRE(sdk.write_workspace_file(ws->workspace_id, "hello.txt", "hi\n"));
  exec_request exec;
  exec.command = "cat hello.txt && echo more >> hello.txt";
  auto ran = sdk.exec_workspace(ws->workspace_id, exec);
  REQUIRE(ran);
  CHECK(ran->outcome.stdout_text == "hi\n");
  CHECK(ran->sequence == 1);
  auto diff = sdk.diff_workspace(ws->workspace_id);
  REQUIRE(diff);
  CHECK(diff->summary.added == 1);
  auto read = sdk.read_workspace_file(ws->workspace_id, "hello.txt");
  REQUIRE(read);
  CHECK(read->content == "hi\nmore\n");
  test::temp_dir out;
  auto exported = sdk.export_workspace(ws->workspace_id, "hello.txt",
                                       (out.path() / "h.txt").string());
  REQUIRE(exported);
  CHECK(exported->bytes_written == 8);
  auto logs = sdk.logs_workspace(ws->workspace_id);
  REQUIRE(logs);
  CHECK(logs->size() == 1);
  auto listed = sdk.list_workspaces();
  REQUIRE(listed);
  CHECK(listed->size() == 1);
  auto run = sdk.run_in_vm(request, exec);
  REQUIRE(run);
  CHECK(run->deleted);
  CHECK(run->exec.outcome.exit_code != 0); // no hello.txt in a fresh VM
  REQUIRE(sdk.delete_workspace(ws->workspace_id));
  auto gone = sdk.status_workspace(ws->workspace_id);
  REQUIRE_FALSE(gone);
  CHECK(gone.err().code == error_code::not_found);
}

TEST_CASE_METHOD(test::sandbox_fixture,
                 "a pyro process killed during sync leaves a usable "
                 "workspace",
                 "[e2e][workspace][sync]") {
  auto id = create();
  test::temp_dir host;
  auto big = host.path() / "big";
  fs::create_directories(big);
  std::string body(1 << 20, 'x');
  for (int i = 0; i < 200; ++i)
    std::ofstream{big / ("f" + std::to_string(i))} << body;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("PYRO_HOME", home.path().c_str(), 1);
    ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache.path().c_str(), 1);
    ::execl(PYRO_BIN, PYRO_BIN, "workspace", "sync", "push", id.c_str(),
            big.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{150});
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK(out(id, "echo alive") == "alive\n");
  // The interrupted import left nothing half-made under /workspace.
  auto files = out(id, "ls /workspace | wc -l");
  CHECK((files == "0\n" || files == "200\n"));
  auto synced = pyro_json({"workspace", "sync", "push", id, big.string()});
  CHECK(synced["entry_count"] == 200);
  CHECK(out(id, "ls /workspace | wc -l") == "200\n");
  CHECK(out(id, "ls -a / | grep -c staging; true") == "0\n");
}
