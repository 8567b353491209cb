#pragma once

// Installing environments into the cache: built locally (busybox offline,
// Debian with mmdebstrap from the host's apt sources). An install counts
// only when complete: it is built in a staging directory, its install.json
// is written last, and only then is it renamed into place, so a killed
// build leaves nothing that looks installed and the next pull starts over.
// Two processes pulling the same environment serialise on a lock and the
// second finds the work done.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

struct install_info {
  std::string name;
  bool installed = false;
  /// busybox or mmdebstrap.
  std::string source;
  std::vector<std::string> packages;
  uint64_t size_bytes = 0;
  double installed_at = 0;
  std::filesystem::path path;
  /// vm/ is complete: kernel, initramfs and root disk image.
  bool vm_images = false;
  std::string kernel_release;
};

nlohmann::json to_json(const install_info& info);

/// Receives "[pull] phase=... environment=..." lines.
using pull_progress = std::function<void(const std::string&)>;

/// Whether a pull builds the VM images (kernel, initramfs, root disk).
enum class vm_images_policy {
  /// When the host has a VM backend (`vm_images_wanted()`): `env pull`.
  host_default,
  /// A VM workspace is being created on it.
  always,
  /// A sandbox or host workspace is being created on it.
  never,
};

/// Installs an environment unless it already is (or `force`); an install
/// lacking VM images the policy wants gets them.
result<install_info>
pull_environment(std::string_view name, const pull_progress& progress = {},
                 bool force = false,
                 vm_images_policy vm = vm_images_policy::host_default);

/// What is installed for `name` (installed=false when nothing complete).
result<install_info> inspect_environment(std::string_view name);

} // namespace pyro::vmm
