#pragma once

// The HTTP transport's bearer token when the operator sets none: made up at
// start and written where only the server's user can read it. Loopback is
// not a boundary between the users of one host, nor between the server
// and a web page that found a way past the Host and Origin checks, so no
// HTTP server runs without a token.

#include <filesystem>
#include <string>

#include "messages/error.hpp"

namespace pyro::mcp {

/// 32 bytes from the kernel's random source, as 64 hex digits.
result<std::string> random_token();

/// Where the token of a server on `port` is kept: PYRO_HOME/mcp/
/// http-PORT.token.
std::filesystem::path token_file(const std::filesystem::path& home, int port);

/// Writes `token` to `file` (mode 0600, in a directory of mode 0700,
/// atomically: a reader sees the old token or the new one).
status write_token_file(const std::filesystem::path& file,
                        const std::string& token);

} // namespace pyro::mcp
