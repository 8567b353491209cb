#pragma once

#include <filesystem>

#include "messages/error.hpp"

namespace pyro::vmm {

/// The static `pyro-agent` binary that every backend runs: PYRO_AGENT_BINARY
/// if set, else `pyro-agent` beside the running executable (the build tree
/// and an install keep them together). `failed_precondition` if neither
/// exists.
result<std::filesystem::path> agent_binary();

} // namespace pyro::vmm
