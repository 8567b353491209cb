#include "actors/workspace.hpp"

namespace pyro {

workspace_actor::behavior_type
workspace_impl(workspace_actor::stateful_pointer<workspace_state> self,
               std::string id, std::shared_ptr<const state_store> store) {
  self->state.id = std::move(id);
  self->state.store = std::move(store);
  return {
    [=](status_atom) -> caf::result<workspace_record> {
      auto record = self->state.store->load(self->state.id);
      if (!record)
        return to_caf(record.err());
      return std::move(*record);
    },
    [=](remove_atom) -> caf::result<bool> {
      const auto& st = self->state;
      auto lock = st.store->lock(st.id);
      if (!lock)
        return to_caf(lock.err());
      if (auto removed = st.store->remove(st.id); !removed)
        return to_caf(removed.err());
      // Nothing is left to own; the registry forgets us on the down message.
      self->quit();
      return true;
    },
  };
}

} // namespace pyro
