#include "frontends/cli/demo.hpp"

#include <chrono>
#include <fstream>
#include <functional>

#include <unistd.h>

#include "frontends/cli/probe_server.hpp"
#include "messages/sys/atomic_file.hpp"
#include "vmm/environments/catalog.hpp"

namespace pyro::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

// From inside the sandbox: a page served on the host's external address is
// reachable (with PYRO_EGRESS_ALLOW_HOST=1: egress refuses the host's own
// addresses by default), the host's loopback is not.
result<json> prove_egress(Pyro& sdk, const std::string& id,
                          const std::function<void(const std::string&)>& step) {
  probe_server server;
  if (auto started = server.start("egress works\n"); !started)
    return started.err();
  auto target = server.address() + "/" + std::to_string(server.port());
  step("phase=network workspace_id=" + id + " probe=" + server.address() + ":"
       + std::to_string(server.port()));
  exec_request exec;
  exec.timeout_seconds = 20;
  exec.command
    = "exec 3<>/dev/tcp/" + target
      + " && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n 1 <&3; "
        "if (exec 4<>/dev/tcp/10.0.2.2/"
      + std::to_string(server.port())
      + ") 2>/dev/null; then echo host-loopback-reachable; "
        "else echo host-loopback-unreachable; fi";
  exec.command = "bash -c \"" + exec.command + "\"";
  auto ran = sdk.exec_workspace(id, exec);
  if (!ran)
    return ran.err();
  const auto& text = ran->outcome.stdout_text;
  bool reached = text.find("egress works") != std::string::npos;
  bool loopback_closed
    = text.find("host-loopback-unreachable") != std::string::npos;
  step("phase=network workspace_id=" + id
       + " egress=" + (reached ? "ok" : "failed")
       + " host_loopback=" + (loopback_closed ? "unreachable" : "REACHABLE"));
  if (!reached || !loopback_closed)
    return make_error(error_code::internal,
                      "the network probe failed: " + text
                        + ran->outcome.stderr_text,
                      // The probe listens on this host, which egress keeps
                      // out of reach unless the operator allows it.
                      "run it as PYRO_EGRESS_ALLOW_HOST=1 pyro demo --network");
  return json{{"probe", server.address() + ":" + std::to_string(server.port())},
              {"egress", reached},
              {"host_loopback_reachable", !loopback_closed}};
}

} // namespace

result<json> run_demo(Pyro& sdk, const json& args,
                      const progress_fn& progress) {
  bool network = args.value("network", false);
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
  std::string environment{vmm::default_environment()};
  step("phase=create environment=" + environment);
  create_request request;
  request.environment = environment;
  request.seed_path = (dir.path / "repo").string();
  request.name = "pyro-demo";
  request.ttl_seconds = 600;
  if (network)
    request.network_policy = "egress";
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

  if (network) {
    auto probed = prove_egress(sdk, id, step);
    if (!probed)
      return fail(probed.err());
    out["network"] = *probed;
  }

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
