#pragma once

#include <filesystem>
#include <memory>

#include "caf/all.hpp"

#include "actors/state_store.hpp"
#include "messages/type_ids.hpp"

namespace pyro {

/// The in-process actor system over one PYRO_HOME: what every frontend
/// holds. No daemon: state that must outlive the process lives on disk or in
/// the sandbox.
class runtime {
public:
  /// `sandbox_pool`: parked sandboxes to keep ready for creates.
  explicit runtime(std::filesystem::path home, int sandbox_pool = 0);
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  caf::actor_system& system() noexcept {
    return *system_;
  }

  [[nodiscard]] const registry_actor& registry() const noexcept {
    return registry_;
  }

  [[nodiscard]] const state_store& store() const noexcept {
    return *store_;
  }

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<const state_store> store_;
  registry_actor registry_;
};

} // namespace pyro
