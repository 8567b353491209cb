#pragma once

// Temporaries that say which process made them, so whoever comes next can
// tell the remains of a killed process (its pid no longer runs) from the
// work of a live one, and remove only the former.

#include <filesystem>
#include <string>

namespace pyro::sys {

/// `<prefix><pid>-<random>`: unique, and owned by this process.
std::string owned_temp_name(const std::string& prefix);

/// Removes (recursively) every entry of `dir` named by owned_temp_name with
/// this prefix whose process is gone, if this user owns it and no one else
/// can write to it. Safe while other processes work in `dir`: a live
/// owner's temporaries are left alone.
void remove_dead_temps(const std::filesystem::path& dir,
                       const std::string& prefix);

} // namespace pyro::sys
