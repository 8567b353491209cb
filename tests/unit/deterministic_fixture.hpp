#pragma once

#include "caf/all.hpp"
#include "caf/scheduler/test_coordinator.hpp"

#include "messages/type_ids.hpp"

namespace pyro::test {

/// An actor system on CAF's test coordinator: messages run only when the
/// test says so, and timeouts fire only when triggered. No sleeps.
struct deterministic_fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
};

} // namespace pyro::test
