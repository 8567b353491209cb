#pragma once

// What of /proc and /sys a sandbox may not write or read, after runc's and
// bwrap's defaults: host-global kernel knobs read-only, kernel memory,
// keys and scheduler internals hidden. In the sandbox's user namespace most
// writes already fail (the files belong to the host's root); these mounts
// hold even where a knob is namespaced or its check is weaker.

#include <filesystem>
#include <string>

namespace pyro::vmm {

/// Applies the masks under `root` (the sandbox's root, before pivot_root).
/// Returns an error message or empty; entries the kernel lacks are skipped.
std::string mask_proc_and_sys(const std::filesystem::path& root);

} // namespace pyro::vmm
