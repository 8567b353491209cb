#include "messages/workspace_results.hpp"

#include "messages/workspace_requests.hpp"

#include <nlohmann/json.hpp>

namespace pyro {

using nlohmann::json;

json to_json(const file_info& f) {
  return json{{"path", f.path},
              {"type", f.type},
              {"mode", f.mode},
              {"size", f.size},
              {"link_target",
               f.link_target.empty() ? json(nullptr) : json(f.link_target)}};
}

json to_json(const std::vector<file_info>& files) {
  json entries = json::array();
  for (const auto& f : files)
    entries.push_back(to_json(f));
  return json{{"entries", std::move(entries)}, {"count", files.size()}};
}

json to_json(const sync_result& r) {
  return json{{"workspace_id", r.workspace_id},
              {"source_path", r.source_path},
              {"dest", r.dest},
              {"source_kind", r.source_kind},
              {"entry_count", r.entries},
              {"bytes", r.bytes}};
}

json to_json(const export_result& r) {
  return json{{"workspace_id", r.workspace_id},
              {"workspace_path", r.workspace_path},
              {"output_path", r.output_path},
              {"artifact_type", r.artifact_type},
              {"entry_count", r.entry_count},
              {"bytes_written", r.bytes_written},
              {"execution_mode", r.execution_mode},
              {"skipped_count", r.skipped_count},
              {"skipped", r.skipped}};
}

json to_json(const file_read_result& r) {
  return json{{"workspace_id", r.workspace_id},
              {"path", r.path},
              {"content", r.content},
              {"truncated", r.truncated},
              {"max_bytes", r.max_bytes}};
}

json to_json(const patch_result& r) {
  return json{
    {"workspace_id", r.workspace_id},
    {"added", r.added},
    {"modified", r.modified},
    {"deleted", r.deleted},
    {"changed", r.added.size() + r.modified.size() + r.deleted.size()}};
}

nlohmann::json to_json(const workspace_diff& d) {
  auto entries = nlohmann::json::array();
  for (const auto& e : d.entries) {
    nlohmann::json j{
      {"path", e.path}, {"status", e.status}, {"binary", e.binary}};
    j["old_type"] = e.old_type.empty() ? nlohmann::json(nullptr)
                                       : nlohmann::json(e.old_type);
    j["new_type"] = e.new_type.empty() ? nlohmann::json(nullptr)
                                       : nlohmann::json(e.new_type);
    if (e.mode_only)
      j["mode_only"] = true;
    entries.push_back(std::move(j));
  }
  const auto& s = d.summary;
  return nlohmann::json{{"changed", d.changed},
                        {"summary",
                         {{"total", s.total},
                          {"added", s.added},
                          {"modified", s.modified},
                          {"deleted", s.deleted},
                          {"type_changed", s.type_changed},
                          {"binary", s.binary}}},
                        {"entries", std::move(entries)},
                        {"patch", d.patch}};
}

json to_json(const journal_entry& e) {
  return json{{"sequence", e.sequence},
              {"command", e.command},
              {"cwd", e.cwd},
              {"exit_code", e.exit_code},
              {"signal", e.signal},
              {"timed_out", e.timed_out},
              {"duration_ms", e.duration_ms},
              {"started_at", e.started_at},
              {"stdout", e.stdout_text},
              {"stderr", e.stderr_text},
              {"truncated", e.truncated}};
}

result<journal_entry> journal_entry_from_json(const json& j) {
  try {
    journal_entry e;
    e.sequence = j.at("sequence").get<int64_t>();
    e.command = j.at("command").get<std::string>();
    e.cwd = j.value("cwd", "");
    e.exit_code = j.value("exit_code", -1);
    e.signal = j.value("signal", 0);
    e.timed_out = j.value("timed_out", false);
    e.duration_ms = j.value("duration_ms", int64_t{0});
    e.started_at = j.value("started_at", 0.0);
    e.stdout_text = j.value("stdout", "");
    e.stderr_text = j.value("stderr", "");
    e.truncated = j.value("truncated", false);
    return e;
  } catch (const json::exception& ex) {
    return make_error(error_code::internal,
                      std::string{"malformed journal entry: "} + ex.what());
  }
}

json to_json(const snapshot_info& s) {
  return json{{"name", s.name},
              {"created_at", s.created_at},
              {"bytes", s.bytes},
              {"entry_count", s.entry_count}};
}

json to_json(const exec_result& r) {
  const auto& o = r.outcome;
  return json{{"workspace_id", r.workspace_id},
              {"sequence", r.sequence},
              {"command", r.command},
              {"cwd", r.cwd},
              {"execution_mode", r.execution_mode},
              {"exit_code", o.exit_code},
              {"signal", o.signal == 0 ? json(nullptr) : json(o.signal)},
              {"timed_out", o.timed_out},
              {"stdout", o.stdout_text},
              {"stderr", o.stderr_text},
              {"truncated", o.truncated},
              {"duration_ms", o.duration_ms}};
}

} // namespace pyro
