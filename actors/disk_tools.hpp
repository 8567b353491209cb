#pragma once

// `workspace disk list|read|export`: a stopped VM workspace's disk read
// offline. Each call holds the workspace lock (so the guest cannot start
// under it), flattens the copy-on-write overlay into a raw ext4 image,
// scrubs /run/pyro-* from it and reads that with debugfs.

#include <string>

#include <nlohmann/json.hpp>

#include "actors/state_store.hpp"

namespace pyro {

/// `op` is disk_list, disk_read or disk_export; `args` the contract's
/// parameters without workspace_id.
result<nlohmann::json> disk_call(const state_store& store,
                                 const std::string& id, const std::string& op,
                                 const nlohmann::json& args);

[[nodiscard]] bool is_disk_op(const std::string& op);

} // namespace pyro
