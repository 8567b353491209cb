#include "actors/diff/manifest.hpp"

#include <nlohmann/json.hpp>

#include "messages/wire/byte_names.hpp"

namespace pyro {

nlohmann::json to_json(const manifest& m) {
  auto entries = nlohmann::json::array();
  for (const auto& [path, e] : m) {
    nlohmann::json j{{"type", e.type},
                     {"mode", e.mode},
                     {"size", e.size},
                     {"hash", e.hash}};
    wire::put_bytes(j, "path", e.path);
    wire::put_bytes(j, "link_target", e.link_target);
    entries.push_back(std::move(j));
  }
  return nlohmann::json{{"entries", std::move(entries)}};
}

result<manifest> manifest_from_json(const nlohmann::json& j) {
  try {
    manifest out;
    for (const auto& item : j.at("entries")) {
      manifest_entry e;
      item.at("path").get<std::string>(); // required
      e.path = wire::get_bytes(item, "path");
      e.type = item.at("type").get<std::string>();
      e.mode = item.value("mode", 0u);
      e.size = item.value("size", uint64_t{0});
      e.link_target = wire::get_bytes(item, "link_target");
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
