#include "actors/teardown.hpp"

namespace pyro {

vmm::sandbox_spec sandbox_spec_for(const state_store& store,
                                   const workspace_record& record) {
  vmm::sandbox_spec spec;
  spec.workspace_id = record.workspace_id;
  spec.workspace_dir = store.workspace_dir(record.workspace_id);
  spec.vcpu_count = record.vcpu_count;
  spec.mem_mib = record.mem_mib;
  spec.disk_mib = record.disk_mib;
  spec.network_policy = record.network_policy;
  return spec;
}

result<std::unique_ptr<vmm::backend>>
backend_of(const workspace_record& record) {
  return vmm::backend_by_name(record.backend);
}

status destroy_workspace(const state_store& store, const std::string& id) {
  auto record = store.load(id);
  std::vector<std::string> backends;
  if (record && !record->backend.empty())
    backends.push_back(record->backend);
  else
    // Unknown: clean up after any of them.
    backends = {"sandbox", "qemu", "firecracker", "host"};
  workspace_record stub;
  stub.workspace_id = id;
  const auto& r = record ? *record : stub;
  for (const auto& name : backends) {
    auto backend = vmm::backend_by_name(name);
    if (!backend)
      continue; // a backend this build lacks left nothing it could clean
    if (auto destroyed = (*backend)->destroy(sandbox_spec_for(store, r));
        !destroyed)
      return destroyed;
  }
  return store.remove(id);
}

} // namespace pyro
