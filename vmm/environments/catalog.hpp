#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// One environment pyro knows how to obtain.
struct environment_spec {
  std::string name;
  std::string description;
  /// Debian packages on top of the variant.
  std::vector<std::string> packages;
  /// mmdebstrap variant, or "busybox" for the offline test environment.
  std::string variant;
  /// Only for pyro's own tests; hidden from `env list` unless asked.
  bool test_only = false;
};

/// The catalog, in display order.
const std::vector<environment_spec>& environment_catalog();

const environment_spec* find_environment(std::string_view name);

/// `not_found` naming `name`: the one error for a name outside the catalog,
/// so that every command says it the same way and exits the same.
error unknown_environment(std::string_view name);

/// The environment the docs, the demo and a first run use; `env prune`
/// never removes a complete install of it, since whoever runs pyro next
/// would wait for a rebuild.
std::string_view default_environment();

/// Catalog version, printed by `env list`.
std::string_view catalog_version();

/// `PYRO_ENVIRONMENT_CACHE_DIR`, default `~/.cache/pyro/environments`.
std::filesystem::path environment_cache_dir();

/// Where one environment's install lives inside the cache.
std::filesystem::path environment_install_dir(std::string_view name);

/// Whether `file_name` is what an install leaves in the cache while it
/// runs, or behind when it is killed.
[[nodiscard]] bool is_install_leftover(std::string_view file_name);

/// The catalog entry whose interrupted install left `file_name` in the
/// cache (`.staging-<dir>-<pid>`, `.staging-<dir>-old`, `.old-<dir>-<pid>`,
/// with <dir> the install directory's name), or nullptr: not a leftover,
/// or one of an environment this build does not know.
const environment_spec* leftover_owner(std::string_view file_name);

/// The flock one pull or build of `name` holds (`<cache>/.locks/<dir>.lock`).
std::filesystem::path environment_pull_lock(std::string_view name);

/// An install counts only when its manifest says it is complete.
[[nodiscard]] bool environment_installed(std::string_view name);

nlohmann::json to_json(const environment_spec& spec);

} // namespace pyro::vmm
