#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"

namespace pyro::wire {

/// The envelope of a request header frame, checked field by field: a
/// peer's JSON may hold anything.
struct request_header {
  std::string op;
  int64_t id = 0;
  bool upload = false;
  nlohmann::json body;
};

/// Parses a request header frame's body; `invalid_argument` names what is
/// wrong with it.
result<request_header> parse_request(std::string_view text);

} // namespace pyro::wire
