#pragma once

// What a client and the resident server say besides the contract's
// operations, and what a client sends so that the server can tell whether
// it would serve the call as the client itself would.

#include <array>

namespace pyro::server {

/// Operations of the server itself, never in the contract.
inline constexpr const char* status_op = "server_status";
inline constexpr const char* stop_op = "server_stop";

/// Variables the server reads from its own environment when it starts; a
/// client whose values differ is refused rather than served differently.
inline constexpr std::array<const char*, 4> environment_keys{
  "PYRO_ENVIRONMENT_CACHE_DIR", "PYRO_BACKEND", "PYRO_REGISTRY",
  "PYRO_SANDBOX_ID_RANGE"};

} // namespace pyro::server
