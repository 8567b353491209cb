#pragma once

// The steps PID 1 of a sandbox runs, as root of its own user namespace, to
// build its root: a private mount namespace with a staging tmpfs, then the
// overlay over the staged layers, /proc and /sys (masked), a minimal /dev,
// /run, the hostname, DNS, loopback, and pivot_root. Each returns an error
// message or empty.

#include <string>

#include "vmm/sandbox/launch_spec.hpp"

namespace pyro::vmm {

/// New mount, uts, ipc, net and cgroup namespaces, / made private.
std::string enter_namespaces();

/// The staging tmpfs with empty lower/, layers/ and root/ (once the layers
/// are taken: it may cover where they came from).
std::string stage();

/// Everything from the overlay to pivot_root, once the layers are staged.
/// The hostname is set unless `spec.park`.
std::string build_root(const launch_spec& spec);

} // namespace pyro::vmm
