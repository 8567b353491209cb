#include "actors/secret_store.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path store_path(const state_store& store, const std::string& id) {
  return store.workspace_dir(id) / "secrets" / "values.json";
}

} // namespace

status save_secret_values(const state_store& store, const std::string& id,
                          const std::vector<secret_value>& secrets) {
  if (secrets.empty())
    return {};
  auto path = store_path(store, id);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  json values = json::object();
  for (const auto& s : secrets)
    values[s.name] = s.value;
  return sys::write_file_atomic(path, dump_json(values), 0600);
}

result<std::map<std::string, std::string>>
load_secret_values(const state_store& store, const std::string& id) {
  auto path = store_path(store, id);
  std::error_code ec;
  if (!fs::exists(path, ec))
    return std::map<std::string, std::string>{};
  auto text = sys::read_file(path);
  if (!text)
    return text.err();
  try {
    return json::parse(*text).get<std::map<std::string, std::string>>();
  } catch (const json::exception&) {
    return make_error(error_code::internal,
                      "the secret store of workspace '" + id
                        + "' is unreadable",
                      "recreate the workspace with its secrets");
  }
}

status materialise_secrets(const state_store& store,
                           const workspace_record& record, agent_link& link) {
  if (record.secrets.empty())
    return {};
  auto values = load_secret_values(store, record.workspace_id);
  if (!values)
    return values.err();
  auto put = link.call("secrets_put", json{{"secrets", *values}},
                       std::chrono::seconds{30});
  if (!put)
    return put.err();
  return {};
}

result<std::map<std::string, std::string>>
secret_env_map(const workspace_record& record,
               const std::vector<std::string>& specs) {
  std::map<std::string, std::string> out;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    auto name = spec.substr(0, eq);
    auto env = eq == std::string::npos ? name : spec.substr(eq + 1);
    bool known
      = std::any_of(record.secrets.begin(), record.secrets.end(),
                    [&](const secret_ref& s) { return s.name == name; });
    if (!known) {
      std::string have;
      for (const auto& s : record.secrets)
        have += (have.empty() ? "" : ", ") + s.name;
      return make_error(error_code::invalid_argument,
                        "--secret-env " + spec + ": workspace '"
                          + record.workspace_id + "' has no secret '" + name
                          + "'",
                        have.empty() ? "it was created without secrets"
                                     : "its secrets are: " + have);
    }
    if (env.empty() || env.find_first_of("=\0", 0, 2) != std::string::npos)
      return make_error(error_code::invalid_argument,
                        "--secret-env " + spec
                          + ": the environment variable name is not valid");
    out[env] = name;
  }
  return out;
}

redactor::redactor(std::map<std::string, std::string> values, std::string id)
  : id_(std::move(id)) {
  for (auto& [name, value] : values)
    if (!value.empty())
      values_.emplace_back(std::move(value), name);
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(values_.begin(), values_.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
}

result<redactor> redactor::for_workspace(const state_store& store,
                                         const workspace_record& record) {
  if (record.secrets.empty())
    return redactor{};
  auto values = load_secret_values(store, record.workspace_id);
  if (!values)
    return values.err();
  return redactor{std::move(*values), record.workspace_id};
}

std::string redactor::apply(std::string text) const {
  if (!id_.empty() && text == id_)
    return text;
  for (const auto& [value, name] : values_) {
    auto mask = "[REDACTED:" + name + "]";
    for (size_t at = text.find(value); at != std::string::npos;
         at = text.find(value, at + mask.size()))
      text.replace(at, value.size(), mask);
  }
  return text;
}

void redactor::apply_all(json& value) const {
  if (values_.empty())
    return;
  // Iterative: a reply from the guest may nest deeper than the stack.
  std::vector<json*> todo{&value};
  while (!todo.empty()) {
    json* v = todo.back();
    todo.pop_back();
    if (v->is_string()) {
      auto& text = v->get_ref<std::string&>();
      text = apply(std::move(text));
    } else if (v->is_object()) {
      bool rekey = false;
      for (auto i = v->begin(); i != v->end() && !rekey; ++i)
        rekey = apply(i.key()) != i.key();
      if (rekey) {
        json out = json::object();
        for (auto i = v->begin(); i != v->end(); ++i)
          out[apply(i.key())] = std::move(i.value());
        *v = std::move(out);
      }
      for (auto& item : *v)
        todo.push_back(&item);
    } else if (v->is_array()) {
      for (auto& item : *v)
        todo.push_back(&item);
    }
  }
}

error redactor::apply(error err) const {
  err.message = apply(std::move(err.message));
  err.hint = apply(std::move(err.hint));
  return err;
}

size_t redactor::unsafe_tail(std::string_view text) const {
  size_t hold = 0;
  for (const auto& [value, name] : values_) {
    auto longest = std::min(text.size(), value.size() - 1);
    for (size_t n = longest; n > hold; --n)
      if (text.substr(text.size() - n)
          == std::string_view{value}.substr(0, n)) {
        hold = n;
        break;
      }
  }
  return hold;
}

} // namespace pyro
