#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"

namespace pyro {

struct registry_config {
  std::shared_ptr<const state_store> store;
  /// Workspace actors do blocking I/O, so production runs each on its own
  /// thread; deterministic tests keep them on the test scheduler.
  bool detached_children = true;
  /// Parked sandboxes to keep ready (actors/sandbox_pool.hpp); 0: none.
  int sandbox_pool = 0;
};

struct registry_state {
  registry_config config;
  std::unordered_map<std::string, workspace_actor> children;
  /// Abnormal exits per workspace id, for supervision reports.
  std::unordered_map<std::string, int32_t> failures;
  /// Refills the sandbox pool after creates; null without a pool.
  pool_actor pool;
  static inline const char* name = "registry";
};

/// The supervisor: one workspace actor per workspace id, spawned on first
/// use from what is on disk, monitored, and forgotten when it goes down so
/// that the next request spawns a fresh one.
registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self,
              registry_config config);

} // namespace pyro
