#pragma once

#include <string>

#include "actors/state_store.hpp"
#include "vmm/backend.hpp"

namespace pyro {

/// The backend's view of a workspace (paths and limits; rootfs and agent
/// binary are filled in only when booting).
vmm::sandbox_spec sandbox_spec_for(const state_store& store,
                                   const workspace_record& record);

/// The backend a workspace was created on.
result<std::unique_ptr<vmm::backend>>
backend_of(const workspace_record& record);

/// Stops the workspace's sandbox, removes its processes, mounts and files,
/// then its directory. A corrupt record does not prevent this: every
/// backend's clean-up runs instead. The caller holds the workspace lock.
status destroy_workspace(const state_store& store, const std::string& id);

} // namespace pyro
