#pragma once

#include <map>
#include <string>
#include <vector>

#include "messages/error.hpp"
#include "messages/workspace_requests.hpp"

namespace pyro {

/// Checks ranges, names and the environment against the catalog; the first
/// problem is an `invalid_argument` naming the field.
status validate(const create_request& request);

/// Parses `NAME=VALUE` (literal) or, with `from_file`, `NAME=PATH` whose
/// file must be UTF-8 text of at most 64 KiB.
result<secret_value> parse_secret(const std::string& spec, bool from_file);

/// Secret names are environment-variable shaped: [A-Za-z_][A-Za-z0-9_]*,
/// at most 64 characters.
status validate_secret_name(const std::string& name);

/// `prefix` and 12 random hex digits.
std::string random_name(const std::string& prefix);

/// A fresh id: "ws-" (or "vm-" for one-shot sandboxes) and 12 random hex
/// digits.
std::string new_workspace_id(const std::string& kind = "workspace");

} // namespace pyro
