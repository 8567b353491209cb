#include "frontends/cli/render.hpp"

#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unordered_map>

#include "messages/terminal_text.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/clock.hpp"

namespace pyro::cli {

using nlohmann::json;

namespace {

const char* yes_no(bool value) {
  return value ? "yes" : "no";
}

// A field for people: whatever a workload or a client chose (names, labels,
// paths, reasons) is shown with its control characters escaped, never
// obeyed by the terminal. Every field goes through here except the
// workload's own output streams and file contents, which raw() passes on.
std::string scalar(const json& j) {
  if (j.is_string())
    return escape_control(j.get<std::string>());
  if (j.is_null())
    return "-";
  return escape_control(dump_json(j));
}

// Bytes the workload produced as its output (exec, logs, shells, file
// contents), printed as they are, like cat or ssh would: they are the
// answer the caller asked for. They are redacted before they get here.
std::string raw(const json& j) {
  return j.is_string() ? j.get<std::string>() : std::string{};
}

std::string render_doctor(const json& r, const json&) {
  std::ostringstream out;
  const auto& host = r.at("host");
  const auto& kvm = host.at("kvm");
  out << "Platform: " << scalar(host.at("platform")) << " (kernel "
      << scalar(host.at("kernel_release")) << ")\n"
      << "Runtime: " << scalar(r.at("runtime")) << '\n'
      << "KVM: exists=" << yes_no(kvm.at("exists"))
      << " readable=" << yes_no(kvm.at("readable"))
      << " writable=" << yes_no(kvm.at("writable"))
      << " hardware_virtualization="
      << yes_no(kvm.at("hardware_virtualization")) << '\n'
      << "  stock guests: " << yes_no(kvm.at("stock_guest").at("ok")) << " ("
      << scalar(kvm.at("stock_guest").at("reason")) << ")\n";
  for (const char* key :
       {"namespaces", "overlayfs", "cgroups", "seccomp", "disk_limits"})
    out << key << ": " << yes_no(host.at(key).at("ok")) << " ("
        << scalar(host.at(key).at("reason")) << ")\n";
  out << "Environment cache: " << scalar(r.at("environment_cache")) << '\n'
      << "State: " << scalar(r.at("pyro_home")) << '\n'
      << "Capabilities:";
  for (const auto& [name, cap] : r.at("capabilities").items())
    out << ' ' << name << '=' << yes_no(cap.at("available"));
  out << '\n'
      << "Networking: tun=" << yes_no(host.at("networking").at("tun"))
      << " ip_forward=" << yes_no(host.at("networking").at("ip_forward"))
      << '\n'
      << "Backends:\n";
  for (const auto& b : r.at("backends"))
    out << "  " << std::left << std::setw(12) << scalar(b.at("name"))
        << std::setw(12)
        << (b.at("available").get<bool>() ? "available" : "unavailable")
        << scalar(b.at("reason")) << '\n';
  return out.str();
}

std::string render_env_list(const json& r, const json&) {
  std::ostringstream out;
  out << "Catalog version: " << scalar(r.at("catalog_version")) << '\n';
  for (const auto& e : r.at("environments"))
    out << std::left << std::setw(16) << scalar(e.at("name")) << ' '
        << (e.at("installed").get<bool>() ? "[installed]    "
                                          : "[not installed]")
        << ' ' << scalar(e.at("description")) << '\n';
  return out.str();
}

// One line per thing removed or kept, each with why; then the homes that
// no longer count.
std::string render_env_prune(const json& r, const json&) {
  std::ostringstream out;
  bool dry = r.value("dry_run", false);
  for (const auto& e : r.at("removed"))
    out << (dry ? "would remove " : "removed ") << scalar(e.at("kind")) << ' '
        << scalar(e.at("name")) << ": " << scalar(e.at("reason")) << '\n';
  for (const auto& e : r.at("kept"))
    out << "kept " << scalar(e.at("kind")) << ' ' << scalar(e.at("name"))
        << ": " << scalar(e.at("reason")) << '\n';
  for (const auto& h : r.at("homes"))
    if (!h.value("counted", true))
      out << "PYRO_HOME " << scalar(h.at("pyro_home")) << ": "
          << scalar(h.at("reason")) << '\n';
  if (r.at("removed").empty())
    out << (dry ? "Nothing would be removed.\n" : "Nothing removed.\n");
  return out.str();
}

std::string when(const json& t) {
  if (!t.is_number() || t.get<double>() <= 0)
    return "-";
  return sys::format_utc(t.get<double>());
}

std::string render_workspace_list(const json& r, const json&) {
  std::ostringstream out;
  if (r.at("workspaces").empty())
    return "No workspaces. Create one with `pyro workspace create "
           "debian:12`.\n";
  out << std::left << std::setw(26) << "ID" << std::setw(18) << "NAME"
      << std::setw(13) << "STATE" << std::setw(17) << "ENVIRONMENT"
      << std::setw(22) << "LAST ACTIVITY" << std::setw(22) << "EXPIRES"
      << "COMMANDS\n";
  for (const auto& w : r.at("workspaces")) {
    out << std::setw(26) << scalar(w.at("workspace_id"));
    if (w.value("record_status", "ok") != "ok") {
      out << "(unreadable record: " << scalar(w.at("problem")) << ")\n";
      continue;
    }
    out << std::setw(18) << scalar(w.at("name")) << std::setw(13)
        << scalar(w.at("state")) << std::setw(17) << scalar(w.at("environment"))
        << std::setw(22) << when(w.at("last_activity_at")) << std::setw(22)
        << when(w.at("expires_at")) << scalar(w.at("command_count")) << '\n';
  }
  return out.str();
}

std::string render_fields(const json& r, const json&) {
  std::ostringstream out;
  for (const auto& [key, value] : r.items()) {
    out << escape_control(key) << ": ";
    if (key.size() > 3 && key.compare(key.size() - 3, 3, "_at") == 0)
      out << when(value) << '\n';
    else
      out << scalar(value) << '\n';
  }
  return out.str();
}

std::string render_delete(const json& r, const json&) {
  return "Deleted workspace " + scalar(r.at("workspace_id")) + "\n";
}

std::string render_create(const json& r, const json& args) {
  if (args.value("id_only", false))
    return scalar(r.at("workspace_id")) + "\n";
  std::ostringstream out;
  out << "Created workspace " << scalar(r.at("workspace_id")) << " ("
      << scalar(r.at("environment")) << ", backend " << scalar(r.at("backend"))
      << ", expires " << when(r.at("expires_at")) << ")\n";
  return out.str();
}

// The command's own output passes through untouched; the summary line goes
// to stderr so that stdout is exactly what the command printed.
std::string render_exec(const json& r, const json&) {
  std::cerr << raw(r.at("stderr"));
  std::cerr << "[workspace-exec] workspace_id=" << scalar(r.at("workspace_id"))
            << " sequence=" << scalar(r.at("sequence"))
            << " cwd=" << scalar(r.at("cwd"))
            << " execution_mode=" << scalar(r.at("execution_mode"))
            << " exit_code=" << scalar(r.at("exit_code"))
            << " duration_ms=" << scalar(r.at("duration_ms"))
            << (r.value("timed_out", false) ? " timed_out=true" : "")
            << (r.value("truncated", false) ? " truncated=true" : "")
            << std::endl;
  return raw(r.at("stdout"));
}

std::string render_run(const json& r, const json&) {
  std::cerr << raw(r.at("stderr"));
  std::cerr << "[run] environment=" << scalar(r.at("environment"))
            << " vm_id=" << scalar(r.at("vm_id"))
            << " execution_mode=" << scalar(r.at("execution_mode"))
            << " exit_code=" << scalar(r.at("exit_code"))
            << " duration_ms=" << scalar(r.at("duration_ms"))
            << (r.value("timed_out", false) ? " timed_out=true" : "")
            << std::endl;
  return raw(r.at("stdout"));
}

std::string render_file_read(const json& r, const json& args) {
  if (args.value("content_only", false))
    return raw(r.at("content"));
  std::ostringstream out;
  out << "[workspace-file] path=" << scalar(r.at("path"))
      << " bytes=" << raw(r.at("content")).size()
      << (r.value("truncated", false) ? " truncated=true" : "") << "\n"
      << raw(r.at("content"));
  return out.str();
}

std::string render_diff(const json& r, const json&) {
  const auto& s = r.at("summary");
  std::ostringstream out;
  // A patch is for review: a carriage return or an escape sequence in a
  // changed line must not redraw what the reviewer sees. --json has the
  // exact patch to apply.
  out << escape_control(raw(r.at("patch")), true);
  out << "[workspace-diff] workspace_id=" << scalar(r.at("workspace_id"))
      << " changed=" << (r.value("changed", false) ? "yes" : "no")
      << " total=" << s.at("total") << " added=" << s.at("added")
      << " modified=" << s.at("modified") << " deleted=" << s.at("deleted")
      << " type_changed=" << s.at("type_changed")
      << " binary=" << s.at("binary") << "\n";
  return out.str();
}

std::string render_logs(const json& r, const json&) {
  std::ostringstream out;
  for (const auto& e : r.at("entries")) {
    out << "[workspace-exec] sequence=" << scalar(e.at("sequence"))
        << " cwd=" << scalar(e.at("cwd"))
        << " exit_code=" << scalar(e.at("exit_code"))
        << " duration_ms=" << scalar(e.at("duration_ms"))
        << " command=" << scalar(e.at("command")) << "\n"
        << raw(e.at("stdout")) << raw(e.at("stderr"));
  }
  if (r.at("entries").empty())
    out << "No commands have run in " << scalar(r.at("workspace_id"))
        << " yet.\n";
  return out.str();
}

std::string render_file_list(const json& r, const json&) {
  std::ostringstream out;
  for (const auto& e : r.at("entries"))
    out << std::left << std::setw(10) << scalar(e.at("type")) << std::setw(12)
        << scalar(e.at("size")) << scalar(e.at("path"))
        << (e.at("link_target").is_string()
              ? " -> " + scalar(e.at("link_target"))
              : std::string{})
        << "\n";
  return out.str();
}

std::string render_demo(const json& r, const json&) {
  std::ostringstream out;
  out << "Workspace " << scalar(r.at("workspace_id"))
      << " was created from a seed, synced, used, diffed, exported and "
         "deleted in "
      << scalar(r.at("duration_ms")) << " ms.\n\n"
      << "exec output:\n"
      << raw(r.at("exec").at("stdout")) << "\ndiff:\n"
      << raw(r.at("diff").at("patch")) << "\nexported "
      << scalar(r.at("export").at("workspace_path")) << ": "
      << raw(r.at("export").at("content"));
  if (r.contains("network"))
    out << "\nnetwork: reached " << scalar(r.at("network").at("probe"))
        << " on the host from inside the sandbox; the host's loopback "
           "stayed out of reach.\n";
  return out.str();
}

std::string render_shell_open(const json& r, const json& args) {
  if (args.value("id_only", false))
    return scalar(r.at("shell_id")) + "\n";
  return "Opened shell " + scalar(r.at("shell_id")) + " in "
         + scalar(r.at("workspace_id")) + " (" + scalar(r.at("cols")) + "x"
         + scalar(r.at("rows")) + ", cwd " + scalar(r.at("cwd")) + ")\n";
}

// The output itself on stdout; where to read on from goes to stderr.
std::string render_shell_read(const json& r, const json&) {
  std::cerr << "[shell-read] shell_id=" << scalar(r.at("shell_id"))
            << " next_cursor=" << scalar(r.at("next_cursor"))
            << " state=" << scalar(r.at("state"))
            << (r.value("truncated", false) ? " truncated=true" : "");
  if (r.value("state", "") == "exited")
    std::cerr << " exit_code=" << scalar(r.at("exit_code"));
  std::cerr << std::endl;
  return raw(r.at("output"));
}

std::string render_service(const json& r, const json&) {
  std::ostringstream out;
  out << "Service " << scalar(r.at("name")) << ": " << scalar(r.at("state"));
  if (r.contains("reason"))
    out << " (" << scalar(r.at("reason")) << ")";
  out << "\n";
  return out.str();
}

std::string render_service_list(const json& r, const json&) {
  std::ostringstream out;
  out << "NAME\tSTATE\tPID\tREADINESS\n";
  for (const auto& s : r.at("services"))
    out << scalar(s.at("name")) << '\t' << scalar(s.at("state")) << '\t'
        << scalar(s.at("pid")) << '\t' << scalar(s.at("readiness").at("type"))
        << '\n';
  return out.str();
}

std::string render_service_logs(const json& r, const json&) {
  std::cerr << raw(r.at("stderr"));
  return raw(r.at("stdout"));
}

using renderer = std::function<std::string(const json&, const json&)>;

const std::unordered_map<std::string_view, renderer>& renderers() {
  static const std::unordered_map<std::string_view, renderer> table{
    {"doctor", render_doctor},
    {"env list", render_env_list},
    {"env prune", render_env_prune},
    {"workspace list", render_workspace_list},
    {"workspace delete", render_delete},
    {"demo", render_demo},
    {"workspace create", render_create},
    {"workspace exec", render_exec},
    {"run", render_run},
    {"workspace file read", render_file_read},
    {"workspace file list", render_file_list},
    {"workspace disk list", render_file_list},
    {"workspace disk read", render_file_read},
    {"workspace diff", render_diff},
    {"workspace logs", render_logs},
    {"workspace shell open", render_shell_open},
    {"workspace shell read", render_shell_read},
    {"workspace service start", render_service},
    {"workspace service status", render_service},
    {"workspace service stop", render_service},
    {"workspace service list", render_service_list},
    {"workspace service logs", render_service_logs},
  };
  return table;
}

} // namespace

std::string render_human(const contract::operation& op, const json& result,
                         const json& args) {
  if (auto i = renderers().find(op.cli); i != renderers().end())
    return i->second(result, args);
  return render_fields(result, args);
}

std::string render_error(const error& err) {
  std::string out = "error: " + escape_control(err.message) + "\n";
  if (!err.hint.empty())
    out += "hint: " + escape_control(err.hint) + "\n";
  return out;
}

std::string render_progress(const std::string& line) {
  return escape_control(line) + "\n";
}

int human_exit_status(const contract::operation& op, const json& result) {
  if (op.cli != "workspace exec" && op.cli != "run")
    return 0;
  if (result.value("timed_out", false))
    return 124;
  auto code = result.value("exit_code", 0);
  return code >= 0 && code <= 255 ? code : 1;
}

} // namespace pyro::cli
