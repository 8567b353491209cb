#pragma once

#include <memory>
#include <optional>
#include <string>

#include "actors/secret_store.hpp"
#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"

namespace pyro {

struct workspace_state {
  std::string id;
  std::shared_ptr<const state_store> store;
  /// Redacts every reply; secrets never change after create, so it is
  /// loaded once the record and the private store agree.
  std::optional<redactor> secrets;
  static inline const char* name = "workspace";
};

/// Owns one workspace. Reads come from disk on every request because other
/// pyro processes may change the same workspace; mutations hold its lock.
workspace_actor::behavior_type
workspace_impl(workspace_actor::stateful_pointer<workspace_state> self,
               std::string id, std::shared_ptr<const state_store> store);

} // namespace pyro
