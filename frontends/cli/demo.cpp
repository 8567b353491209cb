#include "frontends/cli/demo.hpp"

#include <chrono>
#include <fstream>

#include <unistd.h>

#include "messages/sys/atomic_file.hpp"

namespace pyro::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* demo_environment = "debian:12";

// A scratch directory for the demo's host files, removed at the end.
struct scratch {
  fs::path path;
  scratch() {
    std::string templ
      = (fs::temp_directory_path() / "pyro-demo-XXXXXX").string();
    path = ::mkdtemp(templ.data());
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream{path} << text;
}

} // namespace

result<json> run_demo(Pyro& sdk, const json& args,
                      const progress_fn& progress) {
  if (args.value("network", false))
    return make_error(error_code::unavailable,
                      "`pyro demo --network` needs guest networking, which "
                      "this build does not provide yet");
  auto step = [&](const std::string& line) {
    if (progress)
      progress("[demo] " + line);
  };
  auto started = std::chrono::steady_clock::now();
  scratch dir;
  write(dir.path / "repo" / "README.md", "# demo\nA tiny project.\n");
  write(dir.path / "repo" / "greet.sh", "echo \"hello from $(hostname)\"\n");
  write(dir.path / "changes" / "NOTES.md", "synced from the host\n");

  json out;
  step("phase=create environment=" + std::string{demo_environment});
  create_request request;
  request.environment = demo_environment;
  request.seed_path = (dir.path / "repo").string();
  request.name = "pyro-demo";
  request.ttl_seconds = 600;
  auto created = sdk.create_workspace(request, progress);
  if (!created)
    return created.err();
  auto id = created->workspace_id;
  out["create"] = to_json(*created);
  // From here on the workspace exists: delete it whatever happens.
  auto fail = [&](const error& err) -> result<json> {
    static_cast<void>(sdk.delete_workspace(id));
    return err;
  };

  step("phase=sync workspace_id=" + id);
  auto synced = sdk.push_workspace_sync(id, (dir.path / "changes").string());
  if (!synced)
    return fail(synced.err());
  out["sync"] = to_json(*synced);

  step("phase=exec workspace_id=" + id);
  exec_request exec;
  exec.command = "sh greet.sh > greeting.txt && cat greeting.txt README.md";
  auto ran = sdk.exec_workspace(id, exec);
  if (!ran)
    return fail(ran.err());
  out["exec"] = to_json(*ran);
  if (ran->outcome.exit_code != 0)
    return fail(make_error(error_code::internal, "the demo command failed: "
                                                   + ran->outcome.stderr_text));

  step("phase=diff workspace_id=" + id);
  auto diff = sdk.diff_workspace(id);
  if (!diff)
    return fail(diff.err());
  out["diff"] = to_json(*diff);

  step("phase=export workspace_id=" + id + " path=greeting.txt");
  auto target = dir.path / "greeting.txt";
  auto exported = sdk.export_workspace(id, "greeting.txt", target.string());
  if (!exported)
    return fail(exported.err());
  out["export"] = to_json(*exported);
  auto text = sys::read_file(target);
  out["export"]["content"] = text ? *text : std::string{};

  step("phase=delete workspace_id=" + id);
  auto deleted = sdk.delete_workspace(id);
  if (!deleted)
    return deleted.err();
  out["delete"] = to_json(*deleted);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - started)
              .count();
  out["workspace_id"] = id;
  out["duration_ms"] = ms;
  step("phase=done workspace_id=" + id + " duration_ms=" + std::to_string(ms));
  return out;
}

} // namespace pyro::cli
