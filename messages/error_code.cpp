#include "messages/error_code.hpp"

namespace pyro {

namespace {

// JSON-RPC reserves -32768..-32000; -32602 is "Invalid params" and -32603
// "Internal error"; the rest use the server-defined range.
constexpr std::array<error_code_info, 8> table{{
  {error_code::invalid_argument, "invalid_argument", 2, -32602,
   "InvalidArgumentError"},
  {error_code::not_found, "not_found", 3, -32004, "NotFoundError"},
  {error_code::already_exists, "already_exists", 4, -32005,
   "AlreadyExistsError"},
  {error_code::failed_precondition, "failed_precondition", 5, -32006,
   "FailedPreconditionError"},
  {error_code::unavailable, "unavailable", 6, -32007, "UnavailableError"},
  {error_code::deadline_exceeded, "deadline_exceeded", 7, -32008,
   "DeadlineExceededError"},
  {error_code::resource_exhausted, "resource_exhausted", 8, -32009,
   "ResourceExhaustedError"},
  {error_code::internal, "internal", 9, -32603, "InternalError"},
}};

static_assert(table.size() == static_cast<size_t>(error_code::internal));

} // namespace

const std::array<error_code_info, 8>& error_table() {
  return table;
}

const error_code_info& info(error_code code) {
  auto index = static_cast<size_t>(code) - 1;
  if (index >= table.size())
    return table.back();
  return table[index];
}

std::string_view to_string(error_code code) {
  return info(code).name;
}

std::optional<error_code> parse_error_code(std::string_view name) {
  for (const auto& row : table)
    if (row.name == name)
      return row.code;
  return std::nullopt;
}

} // namespace pyro
