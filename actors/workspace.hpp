#pragma once

#include <memory>
#include <string>

#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"

namespace pyro {

struct workspace_state {
  std::string id;
  std::shared_ptr<const state_store> store;
  static inline const char* name = "workspace";
};

/// Owns one workspace. Reads come from disk on every request because other
/// pyro processes may change the same workspace; mutations hold its lock.
workspace_actor::behavior_type
workspace_impl(workspace_actor::stateful_pointer<workspace_state> self,
               std::string id, std::shared_ptr<const state_store> store);

} // namespace pyro
