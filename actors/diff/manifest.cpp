#include "actors/diff/manifest.hpp"

#include <nlohmann/json.hpp>

namespace pyro {

nlohmann::json to_json(const manifest& m) {
  auto entries = nlohmann::json::array();
  for (const auto& [path, e] : m)
    entries.push_back({{"path", e.path},
                       {"type", e.type},
                       {"mode", e.mode},
                       {"size", e.size},
                       {"link_target", e.link_target},
                       {"hash", e.hash}});
  return nlohmann::json{{"entries", std::move(entries)}};
}

result<manifest> manifest_from_json(const nlohmann::json& j) {
  try {
    manifest out;
    for (const auto& item : j.at("entries")) {
      manifest_entry e;
      e.path = item.at("path").get<std::string>();
      e.type = item.at("type").get<std::string>();
      e.mode = item.value("mode", 0u);
      e.size = item.value("size", uint64_t{0});
      if (auto i = item.find("link_target"); i != item.end() && i->is_string())
        e.link_target = i->get<std::string>();
      if (auto i = item.find("hash"); i != item.end() && i->is_string())
        e.hash = i->get<std::string>();
      auto key = e.path;
      out.emplace(std::move(key), std::move(e));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    return make_error(error_code::internal,
                      std::string{"malformed manifest: "} + e.what());
  }
}

} // namespace pyro
