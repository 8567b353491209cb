#pragma once

// Every path a request names is resolved beneath /workspace and nowhere
// else: `..`, absolute paths elsewhere and symlinks that escape through any
// component are refused. openat2(RESOLVE_BENEATH) does this in the kernel;
// without it, a walk opens one component at a time with O_NOFOLLOW and
// refuses every symlink on the way.

#include <string>
#include <vector>

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

/// Splits a guest path into components below /workspace. "/workspace/a/b"
/// and "a/b" both give {"a", "b"}; "/workspace" gives {}.
result<std::vector<std::string>> workspace_components(const std::string& path);

/// Opens `components` beneath `dir_fd` with open(2) `flags` and `mode`.
result<int> open_beneath(const agent_context& ctx, int dir_fd,
                         const std::vector<std::string>& components, int flags,
                         unsigned mode = 0);

/// Opens the directory that holds the last component, creating missing
/// directories when `create_parents`; returns its fd (O_DIRECTORY).
result<int> open_parent(const agent_context& ctx,
                        const std::vector<std::string>& components,
                        bool create_parents);

/// "/workspace/" + components joined.
std::string guest_path(const std::vector<std::string>& components);

/// An error from errno for a path operation, with the path named.
error path_error(const std::string& what, const std::string& path, int err);

} // namespace pyro::agent
