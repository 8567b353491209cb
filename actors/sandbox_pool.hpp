#pragma once

#include <memory>
#include <set>
#include <string>

#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"
#include "vmm/backend.hpp"
#include "vmm/sandbox/sandbox_backend.hpp"

namespace pyro {

/// What a parked sandbox fits: a workspace on this environment with these
/// limits and network policy off.
struct pool_key {
  std::string environment;
  int vcpu_count = 1;
  int mem_mib = 1024;
  int disk_mib = 0;
};

/// A claimed slot's sandbox, on its way to running the workspace's agent;
/// the baseline of /workspace taken at park time is the workspace's now.
struct claimed_slot {
  /// The workspace's lock, held since before its directory appeared.
  sys::file_lock lock;
  vmm::claim_ticket ticket;
};

/// Sandboxes built ahead of time so that a create only has to name one:
/// PYRO_HOME/pool/<slot>/ is laid out like a workspace directory (sandbox/,
/// runtime/) around a sandbox parked by sandbox_backend::park, the baseline
/// of its untouched /workspace (baseline/, as a workspace keeps it), the
/// files a workspace's first exec would otherwise create (commands/,
/// activity) and its lock file, plus slot.json saying what it fits and which
/// agent, helper and root filesystem it was built from. Slots being built,
/// claimed or drained have dot names and are never claimed. Any pyro process on
/// the same home may claim a slot another parked; a claim is one rename, so two
/// never get the same sandbox.
class sandbox_pool {
public:
  explicit sandbox_pool(const state_store& store) : store_(store) {
    // nop
  }

  /// Gives workspace `id` (which has no directory yet) a parked sandbox
  /// that fits `key`: the slot's lock file becomes the workspace's (and is
  /// held), the slot directory becomes the workspace directory, and PID 1
  /// is told to become the workspace's. `not_found` when no slot
  /// fits (the caller boots one); slots found stale or dead on the way are
  /// drained. On any other error nothing of the slot is left.
  result<claimed_slot> claim(const pool_key& key, const std::string& id) const;

  /// Parks one sandbox for `key`; returns the slot's name.
  result<std::string> park(const pool_key& key) const;

  /// Parked, current slots that fit `key`.
  [[nodiscard]] size_t count(const pool_key& key) const;

  /// Every parked slot's name.
  [[nodiscard]] std::set<std::string> slots() const;

  /// The environments of every slot, parked or on its way: `env prune` run
  /// from another home keeps them.
  [[nodiscard]] std::set<std::string> environments() const;

  /// Destroys parked sandboxes: those named, or with `all` every slot,
  /// including leftovers of processes killed while parking or claiming.
  void drain(const std::set<std::string>& names, bool all = false) const;

  [[nodiscard]] std::filesystem::path dir() const {
    return store_.home() / "pool";
  }

private:
  const state_store& store_;
};

/// The parked sandboxes a process keeps ready: PYRO_SANDBOX_POOL, else
/// `fallback` (the SDK and MCP server keep one, one-shot CLI commands none).
int sandbox_pool_target(int fallback);

struct pool_state {
  std::shared_ptr<const state_store> store;
  int target = 0;
  /// Slots this actor parked: those still unclaimed are drained on exit.
  std::shared_ptr<std::set<std::string>> parked
    = std::make_shared<std::set<std::string>>();
  static inline const char* name = "sandbox-pool";
};

/// Tops the pool up after each create that could have used it, on its own
/// thread, and drains what it parked when the runtime shuts down.
pool_actor::behavior_type
pool_impl(pool_actor::stateful_pointer<pool_state> self,
          std::shared_ptr<const state_store> store, int target);

} // namespace pyro
