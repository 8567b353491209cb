#pragma once

// Unix socket helpers shared by every process that binds or connects one.

#include <optional>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>

#include "messages/error.hpp"

namespace pyro::sys {

/// The address of a socket at `path`; `invalid_argument` when the path is
/// longer than a Unix socket allows (107 bytes).
result<sockaddr_un> unix_address(const std::string& path);

/// The user id of the process at the other end of a connected socket.
std::optional<uid_t> peer_uid(int fd);

/// Whether that peer is this process's user or root: the only ones a
/// PYRO_HOME's sockets serve or trust.
[[nodiscard]] bool peer_is_own_user(int fd);

} // namespace pyro::sys
