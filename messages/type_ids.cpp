#include "messages/type_ids.hpp"

namespace pyro {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::pyro>();
}

} // namespace pyro
