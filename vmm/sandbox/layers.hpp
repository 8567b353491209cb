#pragma once

// The pieces of a sandbox's root, staged on a private tmpfs at
// `staging_dir` in PID 1's mount namespace while it builds the root:
//
//   lower/   the environment's root file system (read-only)
//   layers/  the overlay's upper/ and work/ directories
//   root/    where the overlay is mounted, then pivoted into
//
// The overlay names them relative to the staging directory, so that the
// sandbox's /proc/self/mountinfo shows no host path. The layers are taken
// (as detached mounts, in PID 1's mount namespace) before the staging
// tmpfs covers anything, then attached under it.

#include <string>

#include <sys/types.h>

#include "vmm/sandbox/id_map.hpp"
#include "vmm/sandbox/launch_spec.hpp"

namespace pyro::vmm {

/// A path every user can reach (a root-run pyro's own directories are not
/// reachable with the sandbox's ids), covered in PID 1's namespace only.
inline constexpr const char* staging_dir = "/tmp";
inline constexpr const char* staged_lower = "lower";
inline constexpr const char* staged_layers = "layers";
inline constexpr const char* staged_root = "root";

/// Overlay options over the staged layers. `userxattr`: the overlay is
/// mounted inside the sandbox's user namespace, where trusted.* xattrs
/// cannot be set.
inline constexpr const char* staged_overlay_options
  = "lowerdir=lower,upperdir=layers/upper,workdir=layers/work,userxattr";

/// The environment's and the layers' detached mounts.
struct taken_layers {
  int lower = -1;
  int layers = -1;
};

/// Run by root, from a process that is not the sandbox: joins the mount
/// namespace of `sandbox` (a detached mount can only be attached in the
/// namespace it was taken in) and takes the environment and the layers as
/// idmapped mounts through `userns_fd` (on-disk id N appears as host id
/// map.host_uid + N, which is N inside), the layers from the workspace's
/// disk image through a loop device when it has one. Nothing is ever
/// mounted in the host's namespace; the loop device goes when the sandbox's
/// last mount of it does. Returns an error message or empty.
std::string take_layers_idmapped(const launch_spec& spec, pid_t sandbox,
                                 int userns_fd, taken_layers& out);

/// Unprivileged: PID 1 takes them itself (ids need no shifting: only the
/// caller's own exist).
std::string take_layers(const launch_spec& spec, taken_layers& out);

/// PID 1, once the staging tmpfs is mounted: attaches what was taken.
std::string attach_layers(const taken_layers& taken);

/// Whether a loop device still serves `image` (a sandbox of the workspace
/// is still running or its mounts are not yet released). Mounting one
/// ext4 image twice corrupts it.
[[nodiscard]] bool disk_image_in_use(const std::string& image);

} // namespace pyro::vmm
