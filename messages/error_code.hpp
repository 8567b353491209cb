#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pyro {

/// What a caller should do about a failure. The one table below maps each
/// code to every frontend's form, so a code never means two things.
enum class error_code : uint8_t {
  invalid_argument = 1, ///< fix the request
  not_found,            ///< the named thing does not exist
  already_exists,       ///< pick another name or delete the old one
  failed_precondition,  ///< fix the state first (start, stop, pull ...)
  unavailable,          ///< not possible here or now; retry or change host
  deadline_exceeded,    ///< took longer than allowed
  resource_exhausted,   ///< a cap or quota was hit
  internal,             ///< a bug or an unexpected host failure
};

/// One row of the error table.
struct error_code_info {
  error_code code;
  std::string_view name;
  /// Exit status of the `pyro` CLI.
  int exit_code;
  /// JSON-RPC error code used when a request itself fails (MCP).
  int jsonrpc_code;
  /// Python SDK exception class name.
  std::string_view exception_name;
};

/// Every code, in enum order.
const std::array<error_code_info, 8>& error_table();

const error_code_info& info(error_code code);

std::string_view to_string(error_code code);

/// Parses a code name such as "not_found".
std::optional<error_code> parse_error_code(std::string_view name);

} // namespace pyro
