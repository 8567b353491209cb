#pragma once

#include <map>
#include <string>
#include <vector>

#include "messages/error.hpp"

namespace pyro {

/// A secret as given at create: its value, literal or read from a host file.
struct secret_value {
  std::string name;
  std::string value;
  /// literal or file.
  std::string source_kind;
};

/// Everything `workspace create` accepts, with the documented defaults.
struct create_request {
  std::string environment;
  int vcpu_count = 1;
  int mem_mib = 1024;
  long ttl_seconds = 600;
  std::string network_policy = "off";
  bool allow_host_compat = false;
  std::string backend = ""; // empty: PYRO_BACKEND, then auto
  std::string seed_path;
  std::vector<secret_value> secrets;
  std::string name;
  std::map<std::string, std::string> labels;
};

/// Checks ranges, names and the environment against the catalog; the first
/// problem is an `invalid_argument` naming the field.
status validate(const create_request& request);

/// Parses `NAME=VALUE` (literal) or, with `from_file`, `NAME=PATH` whose
/// file must be UTF-8 text of at most 64 KiB.
result<secret_value> parse_secret(const std::string& spec, bool from_file);

/// Secret names are environment-variable shaped: [A-Za-z_][A-Za-z0-9_]*,
/// at most 64 characters.
status validate_secret_name(const std::string& name);

/// A fresh workspace id: "ws-" and 12 random hex digits.
std::string new_workspace_id();

} // namespace pyro
