#pragma once

// The host directories an MCP client's tool calls may read and write
// (seeds, sync sources, secret files, export destinations). The model
// behind a client is not the operator: it must not name /etc/shadow as a
// secret file or write over ~/.bashrc. Whoever starts the server gives the
// roots (`--host-root`); without them, the client lists its own (MCP
// `roots/list`, the folder the user opened), else a stdio server uses the
// directory it was started in, and an HTTP server allows none.
//
// A path is resolved before it is checked: every symlink along it is
// followed (realpath of the part that exists), so a link inside a root
// that points out of it does not lead out; what is passed on is the
// resolved path, which has no symlinks left to swap. What remains is a
// race with other host processes that can write inside a root: between
// the check and the operation they could replace a directory on the
// resolved path with a symlink. Tool calls of this server cannot (an export
// can plant symlinks inside a root), because calls naming host paths hold
// host_path_lock(): reads share it, writes hold it alone.

#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::mcp {

/// The roots in force for a call, and how they were chosen (named in
/// refusals).
struct host_roots {
  /// Resolved absolute paths, without symlinks.
  std::vector<std::string> dirs;
  /// E.g. "given with --host-root" or "listed by the client".
  std::string source;
};

/// `dir` resolved (realpath); an error unless it is an existing directory.
result<std::string> resolve_root(const std::string& dir);

/// The local path a `file://` URI names (percent-decoded), or "" when it
/// is not a file URI of this host.
std::string file_uri_path(std::string_view uri);

/// Resolves `path` (absolute, without `..`) and checks that it lies inside
/// one of `roots` (strictly inside, for a path to write). Returns the
/// resolved path to use instead of the one given; `name` is the parameter,
/// for the message.
result<std::string> confine_host_path(std::string_view name,
                                      std::string_view path,
                                      contract::host_access access,
                                      const host_roots& roots);

/// Held by every tool call naming a host path, from the check to the end
/// of the operation: shared by readers, alone by writers.
std::shared_mutex& host_path_lock();

} // namespace pyro::mcp
