#include "frontends/sdk/dispatch.hpp"

#include <functional>
#include <unordered_map>

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

using handler = std::function<result<json>(Pyro&, const json&)>;

const std::unordered_map<std::string_view, handler>& handlers() {
  static const std::unordered_map<std::string_view, handler> table{
    {"list_environments",
     [](Pyro& sdk, const json& a) {
       return as_json(sdk.list_environments(a.value("all", false)));
     }},
    {"doctor", [](Pyro& sdk, const json&) { return as_json(sdk.doctor()); }},
    {"list_workspaces",
     [](Pyro& sdk, const json&) { return as_json(sdk.list_workspaces()); }},
    {"status_workspace",
     [](Pyro& sdk, const json& a) {
       return as_json(sdk.status_workspace(a.at("workspace_id")));
     }},
    {"update_workspace",
     [](Pyro& sdk, const json& a) {
       workspace_update change;
       if (auto i = a.find("name"); i != a.end() && i->is_string()) {
         change.set_name = true;
         change.name = i->get<std::string>();
       }
       change.labels = a.value("labels",
                               std::map<std::string, std::string>{});
       change.clear_labels = a.value("clear_labels",
                                     std::vector<std::string>{});
       return as_json(sdk.update_workspace(a.at("workspace_id"), change));
     }},
    {"reap_expired",
     [](Pyro& sdk, const json&) { return as_json(sdk.reap_expired()); }},
    {"delete_workspace",
     [](Pyro& sdk, const json& a) {
       return as_json(sdk.delete_workspace(a.at("workspace_id")));
     }},
  };
  return table;
}

} // namespace

result<json> dispatch(Pyro& sdk, const contract::operation& op,
                      const json& args) {
  const auto& table = handlers();
  if (auto i = table.find(op.method); i != table.end())
    return i->second(sdk, args);
  std::string what = !op.cli.empty() ? "`pyro " + std::string{op.cli} + "`"
                                     : "`" + std::string{op.tool} + "`";
  return make_error(error_code::unavailable,
                    what + " is not available in this build: it needs "
                      + std::string{op.capability}
                      + ", which this version of pyro does not provide yet",
                    "`pyro doctor` lists what this build can do");
}

} // namespace pyro
