#pragma once

// Host tools the guest image builders drive (apt-get, dpkg-deb, tar, xz,
// mke2fs, debugfs, qemu-img) are pipelines of standard programs: run
// through /bin/sh with every path quoted.

#include <chrono>
#include <filesystem>
#include <string>

#include "messages/error.hpp"

namespace pyro::vmm {

/// `text` as one single-quoted shell word.
std::string shell_quote(const std::string& text);
std::string shell_quote(const std::filesystem::path& path);
std::string shell_quote(const char* text);

/// Runs `script` with /bin/sh -c; a non-zero exit is an error carrying the
/// end of its stderr.
status run_shell(const std::string& script, std::chrono::milliseconds timeout);

} // namespace pyro::vmm
