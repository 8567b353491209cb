#pragma once

#include <filesystem>

namespace pyro::sys {

/// `$HOME`, or the passwd entry's home when HOME is unset.
std::filesystem::path user_home();

/// `$XDG_CACHE_HOME` or `~/.cache`.
std::filesystem::path user_cache_home();

/// `PYRO_HOME`, default `~/.local/share/pyro`: all workspace state.
std::filesystem::path pyro_home();

} // namespace pyro::sys
