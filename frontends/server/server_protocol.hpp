#pragma once

// What a client and the resident server say besides the contract's
// operations, and what a client sends so that the server can tell whether
// it would serve the call as the client itself would.

#include <string>

#include <nlohmann/json.hpp>

namespace pyro::server {

/// Operations of the server itself, never in the contract.
inline constexpr const char* status_op = "server_status";
inline constexpr const char* stop_op = "server_stop";

/// Set in a reply to a call the server declined untouched (another
/// environment or version): the caller serves it itself.
inline constexpr const char* declined_key = "declined";

/// The PYRO_* variables of an environment that change how a call is served:
/// all of them but the home (one server per home anyway) and the server's
/// own settings. Empty values count as unset. A client sends its own; the
/// server serves the call only when they equal its own.
nlohmann::json serving_environment(char** environ);

/// Frames carry MessagePack, not JSON text: strings are bytes (file names,
/// commands, output), and JSON text would turn what is not UTF-8 into
/// U+FFFD.
std::string encode_message(const nlohmann::json& message);

/// A decoded message, or a discarded value when the bytes are not one.
nlohmann::json decode_message(const std::string& bytes);

} // namespace pyro::server
