#include "actors/registry.hpp"

#include "actors/create_request.hpp"
#include "actors/guest_calls.hpp"
#include "actors/workspace.hpp"

namespace pyro {

namespace {

workspace_actor
spawn_child(registry_actor::stateful_pointer<registry_state> self,
            const std::string& id) {
  auto& cfg = self->state.config;
  if (cfg.detached_children)
    return self->spawn<caf::detached>(workspace_impl, id, cfg.store);
  return self->spawn(workspace_impl, id, cfg.store);
}

} // namespace

registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self,
              registry_config config) {
  self->state.config = std::move(config);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& children = self->state.children;
    for (auto i = children.begin(); i != children.end(); ++i) {
      if (i->second.address() != dm.source)
        continue;
      if (dm.reason && dm.reason != caf::exit_reason::normal)
        ++self->state.failures[i->first];
      children.erase(i);
      return;
    }
  });
  return {
    [=](lookup_atom, const std::string& id) -> caf::result<workspace_actor> {
      auto& st = self->state;
      if (auto valid = validate_workspace_id(id); !valid)
        return to_caf(valid.err());
      bool on_disk = st.config.store->exists(id);
      if (auto i = st.children.find(id); i != st.children.end()) {
        if (on_disk)
          return i->second;
        // Deleted, and its down message not here yet: forget it now.
        st.children.erase(i);
      }
      if (!on_disk)
        return to_caf(make_error(
          error_code::not_found, "workspace '" + id + "' does not exist",
          "`pyro workspace list` shows the workspaces that exist"));
      auto child = spawn_child(self, id);
      self->monitor(child);
      st.children.emplace(id, child);
      return child;
    },
    [=](create_atom, create_request& request,
        progress_sink& progress) -> caf::delegated<workspace_record> {
      auto& st = self->state;
      std::string id;
      do
        id = new_workspace_id(request.kind);
      while (st.children.count(id) != 0 || st.config.store->exists(id));
      auto child = spawn_child(self, id);
      self->monitor(child);
      st.children.emplace(id, child);
      return self->delegate(child, create_atom_v, std::move(request),
                            std::move(progress));
    },
    [=](guest_atom, const std::string& id, const std::string& op,
        const std::string& args) -> caf::delegated<std::string> {
      auto worker = self->spawn<caf::detached>(guest_worker_impl, id,
                                               self->state.config.store);
      return self->delegate(worker, guest_atom_v, op, args);
    },
    [=](list_atom) -> std::vector<workspace_entry> {
      return self->state.config.store->list();
    },
    [=](failures_atom, const std::string& id) -> int32_t {
      auto& failures = self->state.failures;
      auto i = failures.find(id);
      return i == failures.end() ? 0 : i->second;
    },
  };
}

} // namespace pyro
