#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

#include "messages/error.hpp"

namespace pyro::vmm {

/// The host ids a sandbox's user namespace maps its ids 0..count-1 onto.
/// Run by root, a range no host account uses: root inside is an
/// unprivileged id outside, so host-global kernel state (sysctls, other
/// users' files, devices) needs a kernel bug, not a write. Run by anyone
/// else, only that user's own ids, as root inside.
struct id_map {
  uint32_t host_uid = 0;
  uint32_t host_gid = 0;
  uint32_t count = 1;

  /// Whether it is a range of ids (root set it up) rather than one user's.
  [[nodiscard]] bool shifted() const {
    return count > 1;
  }
};

/// Default first host id of the range used when pyro runs as root.
inline constexpr uint32_t default_id_base = 1000000000;
inline constexpr uint32_t default_id_count = 65536;

/// The map for this launcher: as root PYRO_SANDBOX_ID_RANGE
/// ("FIRST:COUNT", COUNT at least 65536) or the default range; otherwise
/// the caller's uid and gid.
result<id_map> sandbox_id_map();

/// Writes the uid and gid maps of `pid`'s new user namespace (denying
/// setgroups first where a single id is mapped, as the kernel requires).
std::string write_id_map(pid_t pid, const id_map& map);

} // namespace pyro::vmm
