#include "actors/agent_link.hpp"

namespace pyro {

// Replaced by the wire-protocol client once the agent's protocol lands.
result<std::unique_ptr<agent_link>>
connect_agent(const vmm::agent_endpoint& endpoint) {
  return make_error(error_code::unavailable,
                    "this build cannot talk to the agent at "
                      + endpoint.socket.string() + " yet",
                    "`pyro doctor` lists what this build can do");
}

} // namespace pyro
