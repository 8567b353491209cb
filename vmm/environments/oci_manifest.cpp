#include "vmm/environments/oci_manifest.hpp"

#include <nlohmann/json.hpp>

namespace pyro::vmm {

using nlohmann::json;

namespace {

error bad(const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "registry manifest is not usable: " + why,
                    "push the environment with `pyro env push` or an OCI "
                    "tool that writes image manifests");
}

result<oci_descriptor> descriptor(const json& j) {
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string())
    return bad("a descriptor has no digest");
  oci_descriptor d;
  d.digest = j["digest"].get<std::string>();
  d.media_type = j.value("mediaType", std::string{});
  if (j.contains("size") && j["size"].is_number_unsigned())
    d.size = j["size"].get<uint64_t>();
  if (d.digest.rfind("sha256:", 0) != 0 || d.digest.size() != 71)
    return bad("unsupported digest " + d.digest);
  return d;
}

} // namespace

result<parsed_manifest> parse_manifest(const std::string& body,
                                       const std::string& media_type) {
  auto doc = json::parse(body, nullptr, false);
  if (!doc.is_object())
    return bad("not a JSON object");
  std::string type = media_type;
  if (type.empty() || type == "application/json"
      || type == "text/plain")
    type = doc.value("mediaType", std::string{});
  if (type.empty())
    type = doc.contains("manifests") ? oci_index_type : oci_manifest_type;
  parsed_manifest out;
  if (type == oci_index_type || type == docker_list_type) {
    out.is_index = true;
    if (!doc.contains("manifests") || !doc["manifests"].is_array())
      return bad("index has no manifests");
    for (const auto& m : doc["manifests"]) {
      const auto& p = m.value("platform", json::object());
      if (p.value("os", "") == "linux"
          && p.value("architecture", "") == "amd64") {
        auto d = descriptor(m);
        if (!d)
          return d.err();
        out.platform_digest = d->digest;
        return out;
      }
    }
    return make_error(error_code::not_found,
                      "registry index has no linux/amd64 manifest",
                      "push a linux/amd64 build of the environment");
  }
  if (type != oci_manifest_type && type != docker_manifest_type)
    return bad("unsupported media type '" + type + "'");
  if (!doc.contains("config"))
    return bad("manifest has no config");
  auto config = descriptor(doc["config"]);
  if (!config)
    return config.err();
  out.manifest.config = *config;
  if (!doc.contains("layers") || !doc["layers"].is_array()
      || doc["layers"].empty())
    return bad("manifest has no layers");
  for (const auto& l : doc["layers"]) {
    auto d = descriptor(l);
    if (!d)
      return d.err();
    out.manifest.layers.push_back(*d);
  }
  return out;
}

std::string render_manifest(const oci_manifest& m) {
  auto desc = [](const oci_descriptor& d) {
    return json{{"mediaType", d.media_type}, {"digest", d.digest},
                {"size", d.size}};
  };
  json layers = json::array();
  for (const auto& l : m.layers)
    layers.push_back(desc(l));
  json doc = {{"schemaVersion", 2},
              {"mediaType", oci_manifest_type},
              {"config", desc(m.config)},
              {"layers", layers}};
  return doc.dump();
}

} // namespace pyro::vmm
