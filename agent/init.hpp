#pragma once

#include "agent/agent_context.hpp"
#include "messages/error.hpp"

namespace pyro::agent {

/// Start-up: init duties when PID 1 of a VM (mounts, hostname), child
/// subreaper otherwise, signal handling, the reaper thread, and the
/// descriptors of "/" and /workspace that confine every path.
status prepare(agent_context& ctx);

} // namespace pyro::agent
