// The SDK's shells and services: each is one guest call, run by a worker
// the registry spawns (actors/guest_calls.hpp), which redacts secrets and
// never waits behind a long exec in the workspace actor's mailbox.

#include "frontends/sdk/pyro.hpp"

#include "actors/call.hpp"
#include "actors/runtime.hpp"
#include "messages/json_text.hpp"

namespace pyro {

using nlohmann::json;

result<json> Pyro::guest(const std::string& workspace_id, const std::string& op,
                         json args) {
  caf::scoped_actor self{runtime_->system()};
  if (auto valid = validate_workspace_id(workspace_id); !valid)
    return valid.err();
  // Waits on the guest's side (idle output, readiness, grace periods) are
  // bounded there; this only has to outlast them.
  auto limit
    = std::max(timeout_, std::chrono::milliseconds{std::chrono::minutes{70}});
  auto reply
    = call<std::string>(self, runtime_->registry(), limit, guest_atom_v,
                        workspace_id, op, dump_json(args));
  if (!reply)
    return reply.err();
  auto parsed = json::parse(*reply, nullptr, false);
  if (parsed.is_discarded())
    return make_error(error_code::internal, op + " returned malformed JSON");
  return parsed;
}

result<json> Pyro::open_shell(const std::string& workspace_id,
                              const shell_options& o) {
  return guest(workspace_id, "shell_open",
               {{"cwd", o.cwd},
                {"cols", o.cols},
                {"rows", o.rows},
                {"secret_env", o.secret_env}});
}

result<json> Pyro::read_shell(const std::string& workspace_id,
                              const std::string& shell_id,
                              const shell_read_options& o) {
  return guest(workspace_id, "shell_read",
               {{"shell_id", shell_id},
                {"cursor", o.cursor},
                {"max_chars", o.max_chars},
                {"plain", o.plain},
                {"wait_for_idle_ms", o.wait_for_idle_ms}});
}

result<json> Pyro::write_shell(const std::string& workspace_id,
                               const std::string& shell_id,
                               const std::string& input, bool append_newline) {
  return guest(workspace_id, "shell_write",
               {{"shell_id", shell_id},
                {"input", input},
                {"append_newline", append_newline}});
}

result<json> Pyro::signal_shell(const std::string& workspace_id,
                                const std::string& shell_id,
                                const std::string& signal_name) {
  return guest(workspace_id, "shell_signal",
               {{"shell_id", shell_id}, {"signal_name", signal_name}});
}

result<json> Pyro::close_shell(const std::string& workspace_id,
                               const std::string& shell_id) {
  return guest(workspace_id, "shell_close", {{"shell_id", shell_id}});
}

result<json> Pyro::start_service(const std::string& workspace_id,
                                 const std::string& name,
                                 const service_options& o) {
  return guest(workspace_id, "service_start",
               {{"name", name},
                {"command", o.command},
                {"cwd", o.cwd},
                {"readiness", o.readiness},
                {"ready_timeout_seconds", o.ready_timeout_seconds},
                {"ready_interval_ms", o.ready_interval_ms},
                {"published_ports", o.published_ports},
                {"secret_env", o.secret_env}});
}

result<json> Pyro::list_services(const std::string& workspace_id) {
  return guest(workspace_id, "service_list", json::object());
}

result<json> Pyro::status_service(const std::string& workspace_id,
                                  const std::string& name) {
  return guest(workspace_id, "service_status", {{"name", name}});
}

result<json> Pyro::logs_service(const std::string& workspace_id,
                                const std::string& name, int64_t tail_lines) {
  return guest(
    workspace_id, "service_logs",
    {{"name", name}, {"tail_lines", std::max<int64_t>(tail_lines, 0)}});
}

result<json> Pyro::stop_service(const std::string& workspace_id,
                                const std::string& name) {
  return guest(workspace_id, "service_stop", {{"name", name}});
}

result<json> Pyro::cancel_exec(const std::string& workspace_id,
                               const std::string& cancel_tag) {
  return guest(workspace_id, "exec_cancel", {{"cancel_tag", cancel_tag}});
}

result<json> Pyro::list_workspace_disk(const std::string& workspace_id,
                                       const std::string& path,
                                       bool recursive) {
  return guest(workspace_id, "disk_list",
               {{"path", path}, {"recursive", recursive}});
}

result<json> Pyro::read_workspace_disk(const std::string& workspace_id,
                                       const std::string& path,
                                       uint64_t max_bytes) {
  return guest(workspace_id, "disk_read",
               {{"path", path}, {"max_bytes", max_bytes}});
}

result<json> Pyro::export_workspace_disk(const std::string& workspace_id,
                                         const std::string& output_path) {
  // The caller's working directory, not the SDK process's, names the file.
  return guest(
    workspace_id, "disk_export",
    {{"output_path", std::filesystem::absolute(output_path).string()}});
}

} // namespace pyro
