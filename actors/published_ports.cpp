#include "actors/published_ports.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "actors/teardown.hpp"
#include "vmm/sandbox/forward_table.hpp"
#include "vmm/sandbox/port_watch.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

vmm::forward_table table_of(const state_store& store,
                            const workspace_record& r) {
  return vmm::forward_table{store.workspace_dir(r.workspace_id) / "runtime"};
}

// Host ports below 1024 are where the host's own services live (ssh on
// 22): a sandbox gets one only with the operator's say-so, given in the
// environment of the pyro process that publishes, which no client sets.
bool privileged_ports_allowed() {
  const char* v = std::getenv(allow_privileged_publish_variable);
  return v != nullptr && std::strcmp(v, "1") == 0;
}

result<int> parse_port(const std::string& text, const std::string& spec) {
  try {
    size_t used = 0;
    int port = std::stoi(text, &used);
    if (used == text.size() && port >= 1 && port <= 65535)
      return port;
  } catch (const std::exception&) {
  }
  return make_error(error_code::invalid_argument,
                    "--publish " + spec + ": '" + text
                      + "' is not a port (1-65535)");
}

} // namespace

result<std::vector<port_mapping>>
parse_published_ports(const workspace_record& record,
                      const std::vector<std::string>& specs) {
  std::vector<port_mapping> out;
  if (specs.empty())
    return out;
  if (record.network_policy != "egress+published-ports")
    return make_error(error_code::failed_precondition,
                      "workspace '" + record.workspace_id
                        + "' has network policy '" + record.network_policy
                        + "'; --publish needs egress+published-ports",
                      "create the workspace with --network-policy "
                      "egress+published-ports");
  for (const auto& spec : specs) {
    auto colon = spec.find(':');
    if (colon == std::string::npos)
      return make_error(error_code::invalid_argument,
                        "--publish " + spec + ": expected HOST:GUEST ports");
    auto host = parse_port(spec.substr(0, colon), spec);
    if (!host)
      return host.err();
    auto guest = parse_port(spec.substr(colon + 1), spec);
    if (!guest)
      return guest.err();
    if (*host < 1024 && !privileged_ports_allowed())
      return make_error(
        error_code::invalid_argument,
        "--publish " + spec + ": host port " + std::to_string(*host)
          + " is below 1024, where the host's own services listen; "
            "publishing there needs the operator's consent",
        "pick a host port of 1024 or above, or have the operator start "
        "pyro with "
          + std::string{allow_privileged_publish_variable} + "=1");
    out.push_back({*host, *guest});
  }
  return out;
}

result<json> publish_ports(const state_store& store,
                           const workspace_record& record,
                           const std::string& service,
                           const std::vector<port_mapping>& ports) {
  json published = json::array();
  if (ports.empty())
    return published;
  auto backend = backend_of(record);
  if (!backend)
    return backend.err();
  auto spec = sandbox_spec_for(store, record);
  std::vector<int> ids;
  for (const auto& p : ports) {
    auto id = (*backend)->publish_port(spec, p.host_port, p.guest_port);
    if (!id) {
      for (int done : ids)
        static_cast<void>((*backend)->unpublish_port(spec, done));
      return make_error(
        id.err().code,
        "cannot publish 127.0.0.1:" + std::to_string(p.host_port) + " -> "
          + std::to_string(p.guest_port) + ": " + id.err().message,
        "is the host port free?");
    }
    ids.push_back(*id);
    published.push_back({{"host_address", "127.0.0.1"},
                         {"host_port", p.host_port},
                         {"guest_port", p.guest_port},
                         {"forward_id", *id}});
  }
  auto undo = [&](const error& why) {
    for (int done : ids)
      static_cast<void>((*backend)->unpublish_port(spec, done));
    return why;
  };
  auto table = table_of(store, record);
  {
    auto lock = table.lock();
    if (!lock)
      return undo(lock.err());
    auto all = table.load();
    all[service] = published;
    if (auto saved = table.save(all); !saved)
      return undo(saved.err());
  }
  // Closes them when the service exits by itself. Without it they would
  // outlive the service, so a watcher that cannot start undoes them.
  std::set<int> watched(ids.begin(), ids.end());
  if (auto watching
      = vmm::start_port_watch(spec.runtime_dir(), service, watched);
      !watching) {
    static_cast<void>(unpublish_ports(store, record, service));
    return watching.err();
  }
  return published;
}

json unpublish_ports(const state_store& store, const workspace_record& record,
                     const std::string& service) {
  auto table = table_of(store, record);
  auto lock = table.lock();
  auto all = table.load();
  if (!all.contains(service))
    return json::array();
  auto published = all[service];
  if (auto backend = backend_of(record)) {
    auto spec = sandbox_spec_for(store, record);
    for (const auto& p : published)
      static_cast<void>(
        (*backend)->unpublish_port(spec, p.value("forward_id", -1)));
  }
  all.erase(service);
  static_cast<void>(table.save(all));
  return published;
}

json published_ports_of(const state_store& store,
                        const workspace_record& record,
                        const std::string& service) {
  auto all = table_of(store, record).load();
  return all.contains(service) ? all[service] : json::array();
}

void forget_published_ports(const state_store& store,
                            const workspace_record& record) {
  table_of(store, record).remove();
}

} // namespace pyro
