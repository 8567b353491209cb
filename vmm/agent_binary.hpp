#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// A program that ships with pyro: the value of `env_var` if set, else
/// `name` beside the running executable (the build tree and an install keep
/// them together). `failed_precondition` if neither exists.
result<std::filesystem::path> companion_binary(std::string_view name,
                                               const char* env_var);

/// The static `pyro-agent` every backend runs (PYRO_AGENT_BINARY).
result<std::filesystem::path> agent_binary();

/// The `pyro-sandbox` helper that builds namespace sandboxes
/// (PYRO_SANDBOX_BINARY).
result<std::filesystem::path> sandbox_helper_binary();

/// Size and modification time of a program, to tell when what was built
/// from it (VM images, parked sandboxes) is stale; null if it is missing.
nlohmann::json binary_stamp(const result<std::filesystem::path>& binary);

/// The `pyro-vm` supervisor of QEMU guests (PYRO_VM_BINARY).
result<std::filesystem::path> vm_helper_binary();

} // namespace pyro::vmm
