#include "actors/published_ports.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "actors/teardown.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"
#include "messages/sys/file_lock.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path ports_file(const state_store& store, const workspace_record& r) {
  return store.workspace_dir(r.workspace_id) / "runtime" / "ports.json";
}

json load(const fs::path& path) {
  auto text = sys::read_file(path);
  auto j = text ? json::parse(*text, nullptr, false) : json::object();
  return j.is_object() ? j : json::object();
}

status save(const fs::path& path, const json& j) {
  return sys::write_file_atomic(path, dump_json(j), 0600);
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
  auto path = ports_file(store, record);
  auto lock = sys::file_lock::acquire(path.string() + ".lock",
                                      std::chrono::seconds{10});
  auto all = load(path);
  all[service] = published;
  if (auto saved = save(path, all); !saved)
    return saved.err();
  return published;
}

json unpublish_ports(const state_store& store, const workspace_record& record,
                     const std::string& service) {
  auto path = ports_file(store, record);
  auto lock = sys::file_lock::acquire(path.string() + ".lock",
                                      std::chrono::seconds{10});
  auto all = load(path);
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
  static_cast<void>(save(path, all));
  return published;
}

json published_ports_of(const state_store& store,
                        const workspace_record& record,
                        const std::string& service) {
  auto all = load(ports_file(store, record));
  return all.contains(service) ? all[service] : json::array();
}

void forget_published_ports(const state_store& store,
                            const workspace_record& record) {
  std::error_code ec;
  fs::remove(ports_file(store, record), ec);
}

} // namespace pyro
