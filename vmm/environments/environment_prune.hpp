#pragma once

// `pyro env prune`: what may leave the shared environment cache, and why.
// An install goes when it is stale (left incomplete by an interrupted
// pull), or when nothing in any PYRO_HOME that uses the cache (see
// environment_users.hpp) names it and it is not the default environment:
// removing that one would only make the next user wait for a rebuild.
// Leftovers of interrupted pulls and blobs no install lists go too.
// Nothing outside the cache is ever removed; a dry run removes nothing.

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro::vmm {

/// What uses environments in one home: environment -> who, e.g.
/// "workspace ws-1". `current` is the home prune runs in.
using home_uses = std::function<result<std::map<std::string, std::string>>(
  const std::filesystem::path& home, bool current)>;

struct prune_options {
  bool dry_run = false;
  /// The home prune runs in: always asked, marker or not.
  std::filesystem::path home;
  /// Asked once per home that exists. An error for the current home fails
  /// the prune (fix it first); for another, what its markers name is kept.
  home_uses uses;
};

/// Something removed (or, in a dry run, that would be) or kept.
struct prune_entry {
  std::string name;
  /// environment, leftover or blob.
  std::string kind;
  std::string reason;
};

/// A PYRO_HOME prune considered.
struct prune_home {
  std::filesystem::path pyro_home;
  /// False for a home that no longer exists: its markers go.
  bool counted = true;
  std::string reason;
};

struct prune_report {
  bool dry_run = false;
  std::vector<prune_entry> removed;
  std::vector<prune_entry> kept;
  std::vector<prune_home> homes;
};

/// `{"dry_run", "removed": [{"name", "kind", "reason"}], "kept": [...],
/// "homes": [{"pyro_home", "counted", "reason"}], "count"}`; count is the
/// number of removed entries.
nlohmann::json to_json(const prune_report& report);

result<prune_report> prune_environments(const prune_options& options);

} // namespace pyro::vmm
