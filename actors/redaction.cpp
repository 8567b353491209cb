#include "actors/redaction.hpp"

#include <nlohmann/json.hpp>

namespace pyro {

using nlohmann::json;

namespace {

void hold_back_tail(const redactor& values, std::string& text) {
  text.resize(text.size() - values.unsafe_tail(text));
}

} // namespace

void redacting_inspector::before(file_read_result& x) {
  if (x.truncated)
    hold_back_tail(values_, x.content);
}

void redacting_inspector::before(exec_outcome& x) {
  if (x.truncated) {
    hold_back_tail(values_, x.stdout_text);
    hold_back_tail(values_, x.stderr_text);
  }
}

void redacting_inspector::before(journal_entry& x) {
  if (x.truncated) {
    hold_back_tail(values_, x.stdout_text);
    hold_back_tail(values_, x.stderr_text);
  }
}

void redacting_inspector::visit(error& x) {
  x = values_.apply(std::move(x));
}

void redacting_inspector::visit(json& x) {
  redact(values_, x);
}

void redact(const redactor& values, json& reply) {
  if (values.empty())
    return;
  auto truncated = reply.is_object() ? reply.find("truncated") : reply.end();
  if (truncated != reply.end() && *truncated == true)
    for (const char* key : {"content", "stdout", "stderr"})
      if (auto i = reply.find(key); i != reply.end() && i->is_string())
        hold_back_tail(values, i->get_ref<std::string&>());
  values.apply_all(reply);
}

void redact(const redactor& values, error& err) {
  if (!values.empty())
    err = values.apply(std::move(err));
}

void redact(const state_store& store, std::vector<workspace_entry>& rows) {
  for (auto& row : rows) {
    // A readable record without secrets needs no store read.
    if (row.problem.empty() && row.record.secrets.empty())
      continue;
    auto values = load_secret_values(store, row.workspace_id);
    if (!values) {
      row = workspace_entry{row.workspace_id, values.err().message, {}};
      row.record.workspace_id = row.workspace_id;
      continue;
    }
    redact(redactor{std::move(*values), row.workspace_id}, row);
  }
}

result<workspace_redactor> load_redactor(const state_store& store,
                                         const std::string& id) {
  // The private store stands on its own, so even a corrupt record's
  // replies are redacted.
  auto values = load_secret_values(store, id);
  if (!values)
    return values.err();
  auto record = store.load(id);
  bool final = static_cast<bool>(record);
  if (record)
    for (const auto& s : record->secrets)
      final = final && values->count(s.name) != 0;
  return workspace_redactor{redactor{std::move(*values), id}, final};
}

} // namespace pyro
