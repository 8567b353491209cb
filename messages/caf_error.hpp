#pragma once

// Carries pyro errors across actor boundaries as caf::error values (category
// "pyro", context = message and hint) and maps CAF's own failures, such as
// a request timeout, onto the error table.

#include "caf/all.hpp"

#include "messages/error.hpp"

CAF_ERROR_CODE_ENUM(pyro::error_code, "pyro")

namespace pyro {

caf::error to_caf(const error& err);

/// Any caf::error as a pyro error; `request_timeout` becomes
/// `deadline_exceeded`, a vanished receiver `unavailable`.
error from_caf(const caf::error& err);

} // namespace pyro
