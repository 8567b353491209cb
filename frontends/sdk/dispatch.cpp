#include "frontends/sdk/dispatch.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "actors/create_request.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

using nlohmann::json;

namespace {

template <class T>
result<json> as_json(result<T> r) {
  if (!r)
    return r.err();
  return json(to_json(*r));
}

result<json> as_json(result<std::vector<workspace_entry>> r) {
  if (!r)
    return r.err();
  json rows = json::array();
  for (const auto& e : *r)
    rows.push_back(to_json(e));
  return json{{"workspaces", std::move(rows)}, {"count", r->size()}};
}

using handler
  = std::function<result<json>(Pyro&, const json&, const progress_fn&)>;

// A VM is a workspace record of kind vm; its JSON leads with vm_id.
result<json> vm_json(result<workspace_record> r) {
  if (!r)
    return r.err();
  auto j = to_json(*r);
  j["vm_id"] = r->workspace_id;
  return j;
}

// A text given inline (`key`) or, on the CLI, as a host file (`file_key`);
// exactly one of them.
result<std::string> text_argument(const json& a, const char* key,
                                  const char* file_key) {
  bool inline_text = a.contains(key) && a.at(key).is_string();
  bool from_file = a.contains(file_key) && a.at(file_key).is_string();
  if (inline_text == from_file) {
    std::string flag{file_key};
    std::replace(flag.begin(), flag.end(), '_', '-');
    return make_error(error_code::invalid_argument,
                      std::string{"give exactly one of --"} + key + " and --"
                        + flag);
  }
  if (inline_text)
    return a.at(key).get<std::string>();
  auto path = a.at(file_key).get<std::string>();
  auto text = sys::read_file(path);
  if (!text)
    return make_error(error_code::invalid_argument,
                      "cannot read " + path + ": " + text.err().message);
  return std::move(*text);
}

std::vector<std::string> string_list(const json& a, const char* key) {
  auto i = a.find(key);
  if (i == a.end() || !i->is_array())
    return {};
  return i->get<std::vector<std::string>>();
}

// A readiness probe given as a JSON object (SDK, MCP) or, on the CLI, as
// one of --ready-file, --ready-tcp, --ready-http, --ready-command.
result<json> readiness_from(const json& a) {
  static const std::pair<const char*, std::pair<const char*, const char*>>
    flags[] = {{"ready_file", {"file", "path"}},
               {"ready_tcp", {"tcp", "address"}},
               {"ready_http", {"http", "url"}},
               {"ready_command", {"command", "command"}}};
  json probe;
  if (auto r = a.find("readiness"); r != a.end() && !r->is_null())
    probe = *r;
  for (const auto& [flag, kind] : flags) {
    auto i = a.find(flag);
    if (i == a.end() || !i->is_string())
      continue;
    if (!probe.is_null())
      return make_error(error_code::invalid_argument,
                        "give at most one readiness probe",
                        "one of --ready-file, --ready-tcp, --ready-http, "
                        "--ready-command");
    probe = json{{"type", kind.first}, {kind.second, *i}};
  }
  return probe;
}

result<create_request> create_request_from(const json& a) {
  create_request r;
  r.environment = a.at("environment").get<std::string>();
  r.vcpu_count = a.value("vcpu_count", r.vcpu_count);
  r.mem_mib = a.value("mem_mib", r.mem_mib);
  r.disk_mib = a.value("disk_mib", r.disk_mib);
  r.ttl_seconds = a.value("ttl_seconds", r.ttl_seconds);
  r.network_policy = a.value("network_policy", r.network_policy);
  if (a.value("network", false)) // the one-shot tools' boolean form
    r.network_policy = "egress";
  r.allow_host_compat = a.value("allow_host_compat", false);
  r.backend = a.value("backend", std::string{});
  if (r.backend == "auto")
    r.backend.clear(); // auto still lets PYRO_BACKEND decide
  r.seed_path = a.value("seed_path", std::string{});
  r.name = a.value("name", std::string{});
  r.labels = a.value("labels", std::map<std::string, std::string>{});
  for (const auto& spec : a.value("secret", std::vector<std::string>{})) {
    auto s = parse_secret(spec, false);
    if (!s)
      return s.err();
    r.secrets.push_back(std::move(*s));
  }
  for (const auto& spec : a.value("secret_file", std::vector<std::string>{})) {
    auto s = parse_secret(spec, true);
    if (!s)
      return s.err();
    r.secrets.push_back(std::move(*s));
  }
  if (auto i = a.find("secrets"); i != a.end() && i->is_array()) {
    for (const auto& item : *i) {
      auto name = item.value("name", std::string{});
      std::string spec = name + "=";
      bool file = item.contains("file_path");
      spec += file ? item.value("file_path", std::string{})
                   : item.value("value", std::string{});
      auto s = parse_secret(spec, file);
      if (!s)
        return s.err();
      r.secrets.push_back(std::move(*s));
    }
  }
  return r;
}

const std::unordered_map<std::string_view, handler>& handlers() {
  static const std::unordered_map<std::string_view, handler> table{
    {"list_environments",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.list_environments(a.value("all", false)));
     }},
    {"doctor",
     [](Pyro& sdk, const json&, const progress_fn&) {
       return as_json(sdk.doctor());
     }},
    {"list_workspaces",
     [](Pyro& sdk, const json&, const progress_fn&) {
       return as_json(sdk.list_workspaces());
     }},
    {"status_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.status_workspace(a.at("workspace_id")));
     }},
    {"update_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       workspace_update change;
       if (auto i = a.find("name"); i != a.end() && i->is_string()) {
         change.set_name = true;
         change.name = i->get<std::string>();
       }
       change.labels = a.value("labels", std::map<std::string, std::string>{});
       change.clear_labels
         = a.value("clear_labels", std::vector<std::string>{});
       if (auto i = a.find("ttl_seconds"); i != a.end() && i->is_number()) {
         change.set_ttl = true;
         change.ttl_seconds = i->get<int64_t>();
       }
       return as_json(sdk.update_workspace(a.at("workspace_id"), change));
     }},
    {"create_workspace",
     [](Pyro& sdk, const json& a, const progress_fn& progress) {
       auto request = create_request_from(a);
       if (!request)
         return result<json>{request.err()};
       return as_json(sdk.create_workspace(*request, progress));
     }},
    {"exec_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       exec_request r;
       r.command = a.at("command").get<std::string>();
       r.timeout_seconds = a.value("timeout_seconds", 30);
       r.secret_env = string_list(a, "secret_env");
       r.cancel_tag = a.value(cancel_tag_key, std::string{});
       return as_json(sdk.exec_workspace(a.at("workspace_id"), r));
     }},
    {"push_workspace_sync",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(
         sdk.push_workspace_sync(a.at("workspace_id"), a.at("source_path"),
                                 a.value("dest", std::string{"/workspace"})));
     }},
    {"export_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.export_workspace(a.at("workspace_id"), a.at("path"),
                                           a.at("output_path"),
                                           a.value("overwrite", false)));
     }},
    {"diff_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto diff = sdk.diff_workspace(id);
       if (!diff)
         return diff.err();
       auto j = to_json(*diff);
       j["workspace_id"] = id;
       return j;
     }},
    {"list_workspace_files",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto path = a.value("path", std::string{"/workspace"});
       auto files
         = sdk.list_workspace_files(id, path, a.value("recursive", false));
       if (!files)
         return files.err();
       auto j = to_json(*files);
       j["workspace_id"] = id;
       j["path"] = path;
       return j;
     }},
    {"read_workspace_file",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(
         sdk.read_workspace_file(a.at("workspace_id"), a.at("path"),
                                 a.value("max_bytes", uint64_t{65536})));
     }},
    {"write_workspace_file",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto text = text_argument(a, "text", "text_file");
       if (!text)
         return text.err();
       auto id = a.at("workspace_id").get<std::string>();
       auto path = a.at("path").get<std::string>();
       if (auto written = sdk.write_workspace_file(id, path, *text); !written)
         return written.err();
       return json{
         {"workspace_id", id}, {"path", path}, {"bytes_written", text->size()}};
     }},
    {"apply_workspace_patch",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto patch = text_argument(a, "patch", "patch_file");
       if (!patch)
         return patch.err();
       return as_json(sdk.apply_workspace_patch(a.at("workspace_id"), *patch));
     }},
    {"logs_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto entries = sdk.logs_workspace(id);
       if (!entries)
         return entries.err();
       json rows = json::array();
       for (const auto& e : *entries)
         rows.push_back(to_json(e));
       return json{{"workspace_id", id},
                   {"entries", std::move(rows)},
                   {"count", entries->size()}};
     }},
    {"stop_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.stop_workspace(a.at("workspace_id")));
     }},
    {"start_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.start_workspace(a.at("workspace_id")));
     }},
    {"create_snapshot",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto snap = sdk.create_snapshot(id, a.at("snapshot_name"));
       if (!snap)
         return snap.err();
       auto j = to_json(*snap);
       j["workspace_id"] = id;
       return j;
     }},
    {"list_snapshots",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto snaps = sdk.list_snapshots(id);
       if (!snaps)
         return snaps.err();
       json rows = json::array();
       for (const auto& s : *snaps)
         rows.push_back(to_json(s));
       return json{{"workspace_id", id},
                   {"snapshots", std::move(rows)},
                   {"count", snaps->size()}};
     }},
    {"delete_snapshot",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("workspace_id").get<std::string>();
       auto name = a.at("snapshot_name").get<std::string>();
       if (auto deleted = sdk.delete_snapshot(id, name); !deleted)
         return deleted.err();
       return json{{"workspace_id", id}, {"name", name}, {"deleted", true}};
     }},
    {"reset_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.reset_workspace(
         a.at("workspace_id"), a.value("snapshot", std::string{"baseline"})));
     }},
    {"create_vm",
     [](Pyro& sdk, const json& a, const progress_fn& progress) {
       auto request = create_request_from(a);
       if (!request)
         return result<json>{request.err()};
       return vm_json(sdk.create_vm(*request, progress));
     }},
    {"start_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return vm_json(sdk.start_workspace(a.at("vm_id")));
     }},
    {"stop_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return vm_json(sdk.stop_workspace(a.at("vm_id")));
     }},
    {"status_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return vm_json(sdk.status_workspace(a.at("vm_id")));
     }},
    {"delete_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("vm_id").get<std::string>();
       auto deleted = sdk.delete_workspace(id);
       if (!deleted)
         return deleted.err();
       return json{{"vm_id", id}, {"deleted", deleted->deleted}};
     }},
    {"network_info_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       auto id = a.at("vm_id").get<std::string>();
       auto vm = sdk.status_workspace(id);
       if (!vm)
         return vm.err();
       bool egress = vm->network_policy != "off";
       return json{{"vm_id", id},
                   {"network_policy", vm->network_policy},
                   {"network_enabled", egress},
                   {"interfaces",
                    egress ? json::array({"lo", "eth0"}) : json::array({"lo"})},
                   {"execution_mode", vm->execution_mode}};
     }},
    {"exec_vm",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       exec_request r;
       r.command = a.at("command").get<std::string>();
       r.timeout_seconds = a.value("timeout_seconds", 30);
       return as_json(sdk.exec_vm(a.at("vm_id"), r));
     }},
    {"run_in_vm",
     [](Pyro& sdk, const json& a, const progress_fn& progress) {
       auto request = create_request_from(a);
       if (!request)
         return result<json>{request.err()};
       exec_request r;
       r.command = a.at("command").get<std::string>();
       r.timeout_seconds = a.value("timeout_seconds", 30);
       return as_json(sdk.run_in_vm(*request, r, progress));
     }},
    {"pull_environment",
     [](Pyro& sdk, const json& a, const progress_fn& progress) {
       return as_json(sdk.pull_environment(a.at("environment"), progress,
                                           a.value("force", false)));
     }},
    {"push_environment",
     [](Pyro& sdk, const json& a, const progress_fn& progress) {
       return as_json(sdk.push_environment(a.at("environment"),
                                           a.at("reference"), progress));
     }},
    {"inspect_environment",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.inspect_environment(a.at("environment")));
     }},
    {"prune_environments",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.prune_environments(a.value("dry_run", false)));
     }},
    {"reap_expired",
     [](Pyro& sdk, const json&, const progress_fn&) {
       return as_json(sdk.reap_expired());
     }},
    {"delete_workspace",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return as_json(sdk.delete_workspace(a.at("workspace_id")));
     }},
    {"open_shell",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       shell_options o;
       o.cwd = a.value("cwd", o.cwd);
       o.cols = a.value("cols", o.cols);
       o.rows = a.value("rows", o.rows);
       o.secret_env = string_list(a, "secret_env");
       return sdk.open_shell(a.at("workspace_id"), o);
     }},
    {"read_shell",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       shell_read_options o;
       o.cursor = a.value("cursor", o.cursor);
       o.max_chars = a.value("max_chars", o.max_chars);
       o.plain = a.value("plain", false);
       if (auto w = a.find("wait_for_idle_ms"); w != a.end() && w->is_number())
         o.wait_for_idle_ms = w->get<int>();
       return sdk.read_shell(a.at("workspace_id"), a.at("shell_id"), o);
     }},
    {"write_shell",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.write_shell(a.at("workspace_id"), a.at("shell_id"),
                              a.at("input"), a.value("append_newline", true));
     }},
    {"signal_shell",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.signal_shell(a.at("workspace_id"), a.at("shell_id"),
                               a.value("signal_name", std::string{"INT"}));
     }},
    {"close_shell",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.close_shell(a.at("workspace_id"), a.at("shell_id"));
     }},
    {"start_service",
     [](Pyro& sdk, const json& a, const progress_fn&) -> result<json> {
       service_options o;
       o.command = a.at("command").get<std::string>();
       o.cwd = a.value("cwd", o.cwd);
       auto readiness = readiness_from(a);
       if (!readiness)
         return readiness.err();
       o.readiness = *readiness;
       o.ready_timeout_seconds
         = a.value("ready_timeout_seconds", o.ready_timeout_seconds);
       o.ready_interval_ms = a.value("ready_interval_ms", o.ready_interval_ms);
       o.published_ports = string_list(a, "published_ports");
       o.secret_env = string_list(a, "secret_env");
       return sdk.start_service(a.at("workspace_id"), a.at("service_name"), o);
     }},
    {"list_services",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.list_services(a.at("workspace_id"));
     }},
    {"status_service",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.status_service(a.at("workspace_id"), a.at("service_name"));
     }},
    {"logs_service",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.logs_service(a.at("workspace_id"), a.at("service_name"),
                               a.value("tail_lines", int64_t{0}));
     }},
    {"stop_service",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.stop_service(a.at("workspace_id"), a.at("service_name"));
     }},
    {"list_workspace_disk",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.list_workspace_disk(
         a.at("workspace_id"), a.value("path", std::string{"/workspace"}),
         a.value("recursive", false));
     }},
    {"read_workspace_disk",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.read_workspace_disk(a.at("workspace_id"), a.at("path"),
                                      a.value("max_bytes", uint64_t{65536}));
     }},
    {"export_workspace_disk",
     [](Pyro& sdk, const json& a, const progress_fn&) {
       return sdk.export_workspace_disk(a.at("workspace_id"),
                                        a.at("output_path"));
     }},
  };
  return table;
}

} // namespace

bool dispatchable(const contract::operation& op) {
  return handlers().count(op.method) != 0;
}

result<json> dispatch(Pyro& sdk, const contract::operation& op,
                      const json& args, const progress_fn& progress) {
  const auto& table = handlers();
  if (auto i = table.find(op.method); i != table.end())
    return i->second(sdk, args, progress);
  std::string what = !op.cli.empty() ? "`pyro " + std::string{op.cli} + "`"
                                     : "`" + std::string{op.tool} + "`";
  return make_error(error_code::unavailable,
                    what + " is not available in this build: it needs "
                      + std::string{op.capability}
                      + ", which this version of pyro does not provide yet",
                    "`pyro doctor` lists what this build can do");
}

} // namespace pyro
