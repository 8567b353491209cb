#pragma once

// Installing an environment from an OCI registry into the cache, and
// publishing an installed one. Same install rules as local builds: the
// rootfs is extracted into a staging directory beside the final one,
// install.json (complete=true) is written last and atomically, then the
// staging directory is renamed into place, all under the environment's
// lock (`<cache>/.locks/<name>.lock`, shared with local builds) so two
// pulls do the work once.

#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"
#include "vmm/environments/registry_transfer.hpp"

namespace pyro::vmm {

/// `PYRO_REGISTRY` (e.g. "http://127.0.0.1:5000/pyro"), or empty.
std::string configured_registry();

struct registry_install {
  std::string name;
  /// The registry reference pulled, e.g. "127.0.0.1:5000/pyro/busybox:latest".
  std::string source;
  std::string manifest_digest;
  uint64_t bytes = 0;
  std::filesystem::path path;
  /// False when the environment was installed already (by another pull).
  bool pulled = false;
};

nlohmann::json to_json(const registry_install& r);

/// Pulls `name` from `registry` (a base such as "http://127.0.0.1:5000/pyro")
/// into the cache unless it is installed already (or `force`).
result<registry_install> install_from_registry(std::string_view name,
                                               std::string_view registry,
                                               const registry_options& options,
                                               bool force = false);

/// The rootfs directory of a complete install: the sandbox backend's
/// read-only lower layer. `failed_precondition` (hint `pyro env pull NAME`)
/// when it is not installed.
result<std::filesystem::path> environment_rootfs(std::string_view name);

/// Publishes the installed `name` as `reference` (HOST[:PORT]/REPO[:TAG],
/// optionally http://; plain HTTP is the default only for 127.0.0.1 and
/// localhost).
result<push_report> push_environment(std::string_view name,
                                     std::string_view reference,
                                     const registry_options& options);

/// Removes cached blobs (`<cache>/blobs/sha256/*`) that no complete
/// install's install.json lists under "layers" or "config", and partial
/// downloads nobody is writing (their lock is free). Returns the removed
/// digests / file names. For `pyro env prune`, after removing installs;
/// `leaving` names installs to count as gone already (a dry run has not
/// removed them), and `dry_run` only says what would go.
result<std::vector<std::string>>
prune_cached_blobs(bool dry_run = false,
                   const std::set<std::string>& leaving = {});

} // namespace pyro::vmm
