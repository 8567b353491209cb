#pragma once

// The public surface, declared once: every CLI command, SDK method and MCP
// tool with its parameters, defaults and docs. The CLI registers its flags
// from this table, the MCP server derives its schemas from it, and tests
// check every frontend against it. Renaming anything here is a breaking
// change.

#include <string>
#include <string_view>
#include <vector>

namespace pyro::contract {

enum class value_type {
  string,
  integer,
  boolean,
  /// A shell command: a string in JSON; on the CLI, the words after `--`.
  command,
  string_list,
  /// K=V pairs on the CLI, an object in JSON.
  string_map,
  /// Structured JSON (objects or arrays of objects); described in prose.
  json,
};

/// Whether a parameter names a host path, and which way the operation uses
/// it. Frontends serving callers less trusted than their operator (the MCP
/// server) confine such paths to the host roots they were given.
enum class host_access {
  none,
  /// Read from the host: a seed, a sync source, a secret file.
  read,
  /// Written on the host: an export destination.
  write,
};

/// Bit set of MCP profiles exposing an operation.
enum profile : unsigned {
  no_profile = 0,
  vm_run_profile = 1,
  workspace_core_profile = 2,
  workspace_full_profile = 4,
};

struct param {
  /// The JSON, SDK and MCP name.
  std::string_view name;
  value_type type = value_type::string;
  std::string_view description;
  /// JSON text of the default; empty when there is none.
  std::string_view default_json;
  bool required = false;
  /// A CLI positional argument rather than a flag.
  bool positional = false;
  /// CLI flag spelling when not `--` + dashed name, e.g. `--no-newline`.
  std::string_view flag;
  /// CLI-only convenience (e.g. `--text-file`), absent from SDK and MCP.
  bool cli_only = false;
  /// SDK/MCP-only (structured values the CLI spells with other flags).
  bool api_only = false;
  /// Hidden from the narrowed workspace-core schemas.
  bool full_only = false;
  /// The operator's decision (backend, host-compat): the CLI and SDKs take
  /// it as an argument; an MCP server takes it from its own command line and
  /// never from a tool argument, so it is in no tool schema.
  bool operator_only = false;
  /// Names a host path (for a json parameter: see host_path_member).
  host_access host_path = host_access::none;
  /// For a json array of objects: the member of each item naming the path.
  std::string_view host_path_member;

  [[nodiscard]] std::string cli_flag() const;
};

/// MCP tool annotations.
struct hints {
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  bool open_world = false;
};

struct operation {
  /// CLI words after `pyro`, e.g. "workspace file read"; empty if none.
  std::string_view cli;
  /// MCP tool name; empty if not a tool.
  std::string_view tool;
  /// SDK method name; empty if not in the SDK.
  std::string_view method;
  std::string_view summary;
  std::string_view example;
  std::vector<param> params;
  unsigned profiles = no_profile;
  hints annotations;
  /// What the operation needs from the runtime, named in errors while a
  /// build lacks it.
  std::string_view capability;
};

/// Every operation, grouped as the CLI's help lists them.
const std::vector<operation>& operations();

const operation* find_cli(std::string_view words);

/// The words of a CLI spelling: "workspace file read" -> {"workspace",
/// "file", "read"}.
std::vector<std::string> cli_words(std::string_view cli);
const operation* find_tool(std::string_view name);
const operation* find_method(std::string_view name);

} // namespace pyro::contract
