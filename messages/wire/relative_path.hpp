#pragma once

// Path rules shared by the host and the agent, so both refuse exactly the
// same names: archive members and guest paths never climb out of their root.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/error.hpp"

namespace pyro::wire {

/// The components of a relative path, without empty and "." ones; nullopt
/// for an absolute path or any "..".
std::optional<std::vector<std::string>> split_relative(std::string_view path);

/// Whether a symlink at `member` (components from the root) pointing at
/// `target` resolves inside the root. Absolute targets never do.
[[nodiscard]] bool link_stays_inside(const std::vector<std::string>& member,
                                     std::string_view target);

/// The components below /workspace of a guest path: "/workspace/a/b" and
/// "a/b" both give {"a", "b"}, "/workspace" gives {}. Anything elsewhere,
/// any "..", or a NUL byte is `invalid_argument`.
result<std::vector<std::string>> workspace_components(std::string_view path);

/// "a/b/c" from {"a", "b", "c"}.
std::string join_components(const std::vector<std::string>& parts);

} // namespace pyro::wire
