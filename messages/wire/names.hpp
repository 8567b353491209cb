#pragma once

// Name rules shared by the host and the agent, so both accept exactly the
// same secret and service names (each becomes a file name in the guest).

#include <string_view>

namespace pyro::wire {

/// An environment-variable-like name: [A-Za-z_][A-Za-z0-9_]{0,63}.
[[nodiscard]] bool is_secret_name(std::string_view name);

/// [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
[[nodiscard]] bool is_service_name(std::string_view name);

} // namespace pyro::wire
