#pragma once

// Ports a service publishes: 127.0.0.1:HOST on the host forwarded to GUEST
// in the sandbox, only under the egress+published-ports policy, and on a
// host port below 1024 only when the operator allows it. Which forwards
// belong to which service is kept in the workspace's runtime directory
// (runtime/ports.json, vmm/sandbox/forward_table.hpp), so a later `service
// stop` from another pyro process removes exactly those; a watcher closes
// them when the service exits by itself (vmm/sandbox/port_watch.hpp); the
// sandbox's end takes the rest with it on stop, reset and delete.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"

namespace pyro {

/// Set to 1 by the operator to let services publish host ports below 1024.
inline constexpr const char* allow_privileged_publish_variable
  = "PYRO_PUBLISH_ALLOW_PRIVILEGED";

struct port_mapping {
  int host_port = 0;
  int guest_port = 0;
};

/// Parses HOST:GUEST specs; checks the workspace's policy and the
/// operator's (host ports below 1024) allow them.
result<std::vector<port_mapping>>
parse_published_ports(const workspace_record& record,
                      const std::vector<std::string>& specs);

/// Publishes a service's ports and starts the watcher that closes them
/// when the service exits; on any failure none stays published.
result<nlohmann::json> publish_ports(const state_store& store,
                                     const workspace_record& record,
                                     const std::string& service,
                                     const std::vector<port_mapping>& ports);

/// Removes a service's forwards; returns what they were.
nlohmann::json unpublish_ports(const state_store& store,
                               const workspace_record& record,
                               const std::string& service);

/// A service's published ports, as `publish_ports` returned them.
nlohmann::json published_ports_of(const state_store& store,
                                  const workspace_record& record,
                                  const std::string& service);

/// Forgets every forward (a new sandbox has none).
void forget_published_ports(const state_store& store,
                            const workspace_record& record);

} // namespace pyro
