#include "actors/registry.hpp"

#include "actors/create_request.hpp"
#include "actors/guest_calls.hpp"
#include "actors/redaction.hpp"
#include "actors/sandbox_pool.hpp"
#include "actors/workspace.hpp"
#include "actors/workspace_ops.hpp"

namespace pyro {

namespace {

constexpr auto refill_delay = std::chrono::milliseconds{100};

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
  if (int target = self->state.config.sandbox_pool; target > 0)
    self->state.pool = self->spawn<caf::detached + caf::linked>(
      pool_impl, self->state.config.store, target);
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
        progress_sink& progress) -> caf::result<workspace_record> {
      auto& st = self->state;
      std::string id;
      do
        id = new_workspace_id(request.kind);
      while (st.children.count(id) != 0 || st.config.store->exists(id));
      auto child = spawn_child(self, id);
      self->monitor(child);
      st.children.emplace(id, child);
      if (!st.pool || request.network_policy != "off")
        return self->delegate(child, create_atom_v, std::move(request),
                              std::move(progress));
      // Once a create has taken (or missed) a parked sandbox, the pool
      // parks the next one while the caller works in this one, though not
      // at once: building a sandbox takes kernel locks (namespaces, mounts)
      // that nice cannot yield, and the caller's first commands usually
      // follow the create within milliseconds.
      auto rp = self->make_response_promise<workspace_record>();
      self
        ->request(child, caf::infinite, create_atom_v, std::move(request),
                  std::move(progress))
        .then(
          [=](workspace_record& record) mutable {
            if (record.backend == "sandbox")
              self->delayed_send(self->state.pool, refill_delay, refill_atom_v,
                                 record.environment,
                                 static_cast<int32_t>(record.vcpu_count),
                                 static_cast<int32_t>(record.mem_mib),
                                 static_cast<int32_t>(record.disk_mib));
            rp.deliver(std::move(record));
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](guest_atom, const std::string& id, const std::string& op,
        const std::string& args) -> caf::delegated<std::string> {
      auto worker = self->spawn<caf::detached>(guest_worker_impl, id,
                                               self->state.config.store);
      return self->delegate(worker, guest_atom_v, op, args);
    },
    [=](list_atom) -> std::vector<workspace_entry> {
      const auto& store = *self->state.config.store;
      auto rows = store.list();
      // A look at each sandbox's process, never a call to its agent: that
      // is for status.
      for (auto& row : rows)
        if (row.problem.empty() && !show_if_expired(row.record))
          show_if_gone(store, row.record);
      redact(store, rows);
      return rows;
    },
    [=](failures_atom, const std::string& id) -> int32_t {
      auto& failures = self->state.failures;
      auto i = failures.find(id);
      return i == failures.end() ? 0 : i->second;
    },
  };
}

} // namespace pyro
