#include "vmm/environments/environment_prune.hpp"

#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "messages/sys/file_lock.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/environment_users.hpp"
#include "vmm/environments/registry_install.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// An installed environment, held still while prune decides: no create can
// start using it (use lock) and no pull can replace it (pull lock).
struct held_install {
  const environment_spec* spec = nullptr;
  environment_lock use;
  sys::file_lock pull;
  /// Why it cannot go now, when it is busy.
  std::string busy;
};

std::vector<held_install> hold_installs() {
  std::vector<held_install> out;
  std::error_code ec;
  for (const auto& spec : environment_catalog()) {
    if (!fs::exists(environment_install_dir(spec.name), ec))
      continue;
    held_install h;
    h.spec = &spec;
    h.use = environment_lock::exclusive(spec.name);
    if (!h.use.held()) {
      h.busy = "a workspace on it is being created or started";
    } else if (auto pull = sys::file_lock::acquire(
                 environment_pull_lock(spec.name), std::chrono::seconds{5});
               pull) {
      h.pull = std::move(*pull);
    } else {
      h.busy = "it is being pulled";
    }
    out.push_back(std::move(h));
  }
  return out;
}

// Asks every home that uses the cache what it uses; forgets the markers of
// homes that are gone. Returns environment -> who uses it.
result<std::map<std::string, std::string>>
collect_uses(const prune_options& options, prune_report& report) {
  std::map<fs::path, std::vector<environment_user>> by_home;
  for (auto& user : environment_users())
    by_home[user.home].push_back(std::move(user));
  auto current = marker_home(options.home);
  by_home[current]; // counted with or without a marker
  std::map<std::string, std::string> in_use;
  std::error_code ec;
  for (const auto& [home, markers] : by_home) {
    prune_home row{home, true, {}};
    bool is_current = home == current;
    if (!is_current && !fs::is_directory(home, ec)) {
      row.counted = false;
      row.reason = "no longer exists, so it no longer counts; its markers "
                   "are removed";
      if (!options.dry_run)
        for (const auto& m : markers)
          fs::remove(m.marker, ec);
      report.homes.push_back(std::move(row));
      continue;
    }
    auto uses = options.uses(home, is_current);
    if (!uses) {
      if (is_current)
        return uses.err();
      // Nobody can tell what it uses now: what it said it uses stays.
      for (const auto& m : markers)
        in_use.emplace(m.environment, "PYRO_HOME " + home.string()
                                        + ", whose workspaces cannot be read "
                                          "now");
      row.reason = "its workspaces cannot be read (" + uses.err().message
                   + "); every environment it marked is kept";
      report.homes.push_back(std::move(row));
      continue;
    }
    for (const auto& [environment, who] : *uses)
      in_use.emplace(environment, who + " in PYRO_HOME " + home.string());
    row.reason = uses->empty()
                   ? "nothing there uses an environment"
                   : "uses " + std::to_string(uses->size()) + " environment(s)";
    report.homes.push_back(std::move(row));
  }
  return in_use;
}

} // namespace

json to_json(const prune_report& report) {
  auto entries = [](const std::vector<prune_entry>& list) {
    json out = json::array();
    for (const auto& e : list)
      out.push_back({{"name", e.name}, {"kind", e.kind}, {"reason", e.reason}});
    return out;
  };
  json homes = json::array();
  for (const auto& h : report.homes)
    homes.push_back({{"pyro_home", h.pyro_home.string()},
                     {"counted", h.counted},
                     {"reason", h.reason}});
  return json{{"dry_run", report.dry_run},
              {"removed", entries(report.removed)},
              {"kept", entries(report.kept)},
              {"homes", std::move(homes)},
              {"count", report.removed.size()}};
}

result<prune_report> prune_environments(const prune_options& options) {
  prune_report report;
  report.dry_run = options.dry_run;
  auto cache = environment_cache_dir();
  std::error_code ec;
  if (!fs::is_directory(cache, ec))
    return report;
  // Held before anyone is asked, so that a create starting meanwhile waits
  // for the verdict instead of falling between the question and removal.
  auto installs = hold_installs();
  auto in_use = collect_uses(options, report);
  if (!in_use)
    return in_use.err();
  size_t counted = 0;
  for (const auto& h : report.homes)
    counted += h.counted ? 1 : 0;

  std::set<std::string> leaving;
  for (const auto& h : installs) {
    const auto& name = h.spec->name;
    bool complete = environment_installed(name);
    prune_entry entry{name, "environment", {}};
    if (auto user = in_use->find(name); user != in_use->end()) {
      entry.reason = "used by " + user->second;
    } else if (complete && name == default_environment()) {
      entry.reason = "the default environment: removing it would make the "
                     "next user wait for a rebuild";
    } else if (!h.busy.empty()) {
      entry.reason = h.busy;
    } else {
      entry.reason
        = complete ? "unused: nothing in the " + std::to_string(counted)
                       + " PYRO_HOME(s) sharing this cache uses it"
                   : "stale: an incomplete install an interrupted pull left";
      std::error_code removal;
      if (!options.dry_run)
        fs::remove_all(environment_install_dir(name), removal);
      if (!removal) {
        leaving.insert(name);
        report.removed.push_back(std::move(entry));
        continue;
      }
      entry.reason = "cannot be removed: " + removal.message();
    }
    report.kept.push_back(std::move(entry));
  }

  for (const auto& e : fs::directory_iterator(cache, ec)) {
    auto name = e.path().filename().string();
    if (!is_install_leftover(name))
      continue;
    const auto* owner = leftover_owner(name);
    if (owner == nullptr) {
      report.kept.push_back({name, "leftover",
                             "left by a pull of an environment this build "
                             "does not know"});
      continue;
    }
    // Its pull lock: held already when its install was looked at above.
    sys::file_lock lock;
    bool ours = false;
    for (const auto& h : installs)
      ours = ours || (h.spec == owner && h.pull.held());
    if (!ours) {
      auto taken = sys::file_lock::acquire(environment_pull_lock(owner->name),
                                           std::chrono::milliseconds{0});
      if (!taken) {
        report.kept.push_back(
          {name, "leftover", "a pull of " + owner->name + " is using it"});
        continue;
      }
      lock = std::move(*taken);
    }
    std::error_code removal;
    if (!options.dry_run)
      fs::remove_all(e.path(), removal);
    if (removal)
      report.kept.push_back(
        {name, "leftover", "cannot be removed: " + removal.message()});
    else
      report.removed.push_back(
        {name, "leftover", "left by an interrupted pull of " + owner->name});
  }

  auto blobs = prune_cached_blobs(options.dry_run, leaving);
  if (!blobs)
    return blobs.err();
  for (auto& digest : *blobs)
    report.removed.push_back(
      {std::move(digest), "blob", "no remaining install lists it"});
  return report;
}

} // namespace pyro::vmm
