#include "messages/workspace_record.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

namespace pyro {

using nlohmann::json;

json to_json(const workspace_record& r) {
  json service_counts = json::object();
  for (const char* state :
       {"total", "running", "ready", "exited", "stopped", "failed"}) {
    auto i = r.service_counts.find(state);
    service_counts[state] = i == r.service_counts.end() ? 0 : i->second;
  }
  json secrets = json::array();
  for (const auto& s : r.secrets)
    secrets.push_back({{"name", s.name}, {"source_kind", s.source_kind}});
  json out{
    {"schema_version", r.schema_version},
    {"workspace_id", r.workspace_id},
    {"name", r.name.empty() ? json(nullptr) : json(r.name)},
    {"labels", r.labels},
    {"environment", r.environment},
    {"vcpu_count", r.vcpu_count},
    {"mem_mib", r.mem_mib},
    {"disk_mib", r.disk_mib},
    {"disk_limited", r.disk_limited},
    {"ttl_seconds", r.ttl_seconds},
    {"created_at", r.created_at},
    {"expires_at", r.expires_at},
    {"last_activity_at", r.last_activity_at},
    {"state", r.state},
    {"kind", r.kind},
    {"network_policy", r.network_policy},
    {"backend", r.backend},
    {"execution_mode", r.execution_mode},
    {"workspace_seed",
     {{"mode", r.seed.mode},
      {"source_path",
       r.seed.source_path.empty() ? json(nullptr) : json(r.seed.source_path)}}},
    {"command_count", r.command_count},
    {"secrets", std::move(secrets)},
    {"service_counts", service_counts},
  };
  if (!r.hint.empty())
    out["hint"] = r.hint;
  if (!r.reason.empty())
    out["reason"] = r.reason;
  if (!r.reset_from.empty())
    out["reset_from"] = r.reset_from;
  return out;
}

namespace {

// Reads one field with a type check, remembering the first failure so the
// caller can name it.
class field_reader {
public:
  explicit field_reader(const json& j) : j_(j) {
    // nop
  }

  template <class T>
  void required(const char* key, T& out) {
    if (!ok())
      return;
    auto i = j_.find(key);
    if (i == j_.end()) {
      problem_ = std::string{"missing field '"} + key + "'";
      return;
    }
    read(key, *i, out);
  }

  template <class T>
  void optional(const char* key, T& out) {
    if (!ok())
      return;
    auto i = j_.find(key);
    if (i == j_.end() || i->is_null())
      return;
    read(key, *i, out);
  }

  [[nodiscard]] bool ok() const {
    return problem_.empty();
  }

  const std::string& problem() const {
    return problem_;
  }

private:
  template <class T>
  void read(const char* key, const json& value, T& out) {
    try {
      out = value.get<T>();
    } catch (const json::exception&) {
      problem_ = std::string{"field '"} + key + "' has the wrong type ("
                 + value.type_name() + ")";
    }
  }

  const json& j_;
  std::string problem_;
};

} // namespace

result<workspace_record> workspace_record_from_json(const json& j) {
  if (!j.is_object())
    return make_error(error_code::internal, "record is not a JSON object");
  workspace_record r;
  field_reader f{j};
  f.required("schema_version", r.schema_version);
  if (f.ok() && r.schema_version > workspace_record::current_schema)
    return make_error(
      error_code::failed_precondition,
      "record has schema_version " + std::to_string(r.schema_version)
        + ", newer than this pyro understands ("
        + std::to_string(workspace_record::current_schema) + ")",
      "upgrade pyro to read this workspace");
  f.required("workspace_id", r.workspace_id);
  f.optional("name", r.name);
  f.optional("labels", r.labels);
  f.required("environment", r.environment);
  f.optional("vcpu_count", r.vcpu_count);
  f.optional("mem_mib", r.mem_mib);
  f.optional("disk_mib", r.disk_mib);
  f.optional("ttl_seconds", r.ttl_seconds);
  f.required("created_at", r.created_at);
  f.optional("expires_at", r.expires_at);
  f.optional("last_activity_at", r.last_activity_at);
  f.optional("state", r.state);
  f.optional("reason", r.reason);
  f.optional("reset_from", r.reset_from);
  f.optional("kind", r.kind);
  f.optional("network_policy", r.network_policy);
  f.optional("backend", r.backend);
  f.optional("execution_mode", r.execution_mode);
  f.optional("command_count", r.command_count);
  if (f.ok()) {
    if (auto seed = j.find("workspace_seed");
        seed != j.end() && seed->is_object()) {
      field_reader s{*seed};
      s.optional("mode", r.seed.mode);
      s.optional("source_path", r.seed.source_path);
      if (!s.ok())
        return make_error(error_code::internal,
                          "workspace_seed: " + s.problem());
    }
    if (auto secrets = j.find("secrets");
        secrets != j.end() && secrets->is_array()) {
      for (const auto& item : *secrets) {
        secret_ref ref;
        field_reader s{item};
        s.required("name", ref.name);
        s.optional("source_kind", ref.source_kind);
        if (!s.ok())
          return make_error(error_code::internal, "secrets: " + s.problem());
        r.secrets.push_back(std::move(ref));
      }
    }
  }
  if (!f.ok())
    return make_error(error_code::internal, f.problem());
  if (auto valid = validate_workspace_id(r.workspace_id); !valid)
    return valid.err();
  return r;
}

status validate_workspace_id(const std::string& id) {
  auto bad = [&] {
    return make_error(error_code::invalid_argument,
                      "invalid workspace id '" + id + "'",
                      "ids are 1-64 letters, digits, '-' or '_'; "
                      "`pyro workspace list` shows them");
  };
  if (id.empty() || id.size() > 64)
    return bad();
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok)
      return bad();
  }
  return {};
}

status validate_label_key(const std::string& key) {
  auto bad = [&] {
    return make_error(error_code::invalid_argument,
                      "invalid label key '" + key + "'",
                      "label keys are 1-63 letters, digits, '.', '_' or "
                      "'-', starting with a letter or digit");
  };
  if (key.empty() || key.size() > 63
      || !std::isalnum(static_cast<unsigned char>(key.front())))
    return bad();
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_'
        && c != '-')
      return bad();
  return {};
}

json to_json(const workspace_entry& e) {
  if (e.problem.empty()) {
    auto j = to_json(e.record);
    j["record_status"] = "ok";
    return j;
  }
  return json{{"workspace_id", e.workspace_id},
              {"record_status", "corrupt"},
              {"problem", e.problem}};
}

} // namespace pyro
