#include "actors/runtime.hpp"

#include "actors/registry.hpp"

namespace pyro {

runtime::runtime(std::filesystem::path home, int sandbox_pool)
  : store_(std::make_shared<const state_store>(std::move(home))) {
  add_message_types(cfg_);
  cfg_.set("logger.file-verbosity", caf::atom("quiet"));
  cfg_.set("logger.console-verbosity", caf::atom("quiet"));
  system_ = std::make_unique<caf::actor_system>(cfg_);
  registry_ = system_->spawn(registry_impl,
                             registry_config{store_, true, sandbox_pool});
}

runtime::~runtime() {
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  registry_ = nullptr;
  system_.reset(); // waits for every actor to finish
}

} // namespace pyro
