#include "frontends/server/server_protocol.hpp"

#include <cstring>

namespace pyro::server {

nlohmann::json serving_environment(char** environ) {
  auto out = nlohmann::json::object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string var{*e};
    auto eq = var.find('=');
    if (eq == std::string::npos || eq + 1 == var.size()
        || var.rfind("PYRO_", 0) != 0)
      continue;
    auto name = var.substr(0, eq);
    if (name == "PYRO_HOME" || name.rfind("PYRO_SERVER", 0) == 0)
      continue;
    out[name] = var.substr(eq + 1);
  }
  return out;
}

std::string encode_message(const nlohmann::json& message) {
  auto bytes = nlohmann::json::to_msgpack(message);
  return {bytes.begin(), bytes.end()};
}

nlohmann::json decode_message(const std::string& bytes) {
  return nlohmann::json::from_msgpack(bytes, true, false);
}

} // namespace pyro::server
