#pragma once

namespace pyro::agent {

constexpr const char* agent_version = "0.1.0";
/// Bumped when a request or reply changes incompatibly (docs/protocol.md).
constexpr int protocol_version = 1;

} // namespace pyro::agent
