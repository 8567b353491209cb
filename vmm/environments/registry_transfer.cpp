#include "vmm/environments/registry_transfer.hpp"

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "vmm/environments/oci_manifest.hpp"
#include "vmm/environments/registry_client.hpp"
#include "vmm/environments/rootfs_layer.hpp"
#include "vmm/environments/sha256.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string token_of(const registry_options& o) {
  if (!o.token.empty())
    return o.token;
  const char* env = std::getenv("PYRO_REGISTRY_TOKEN");
  return env ? env : "";
}

void say(const registry_options& o, const std::string& line) {
  if (o.progress)
    o.progress(line);
}

result<std::string> file_digest(const fs::path& p, uint64_t& size) {
  std::ifstream in{p, std::ios::binary};
  if (!in)
    return make_error(error_code::not_found, "cannot read " + p.string());
  sha256 h;
  char buf[1 << 16];
  size = 0;
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    h.update({buf, static_cast<size_t>(in.gcount())});
    size += static_cast<uint64_t>(in.gcount());
  }
  return "sha256:" + h.hex();
}

fs::path blob_path(const fs::path& blob_dir, const std::string& digest) {
  return blob_dir / "sha256" / digest.substr(7);
}

} // namespace

json to_json(const push_report& r) {
  return json{{"reference", r.reference},
              {"manifest_digest", r.manifest_digest},
              {"blobs", r.blob_digests},
              {"bytes", r.bytes}};
}

std::string environment_reference(std::string_view registry,
                                  std::string_view environment) {
  std::string base{registry};
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  std::string env{environment};
  if (env.find(':') == std::string::npos)
    env += ":latest";
  return base + "/" + env;
}

result<push_report> push_rootfs(std::string_view environment,
                                const fs::path& rootfs,
                                std::string_view reference,
                                const fs::path& work_dir,
                                const registry_options& options) {
  auto ref = parse_registry_reference(reference);
  if (!ref)
    return ref.err();
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  auto layer = work_dir / ("layer-" + std::to_string(::getpid()) + ".tar.gz");
  struct cleanup {
    fs::path p;
    ~cleanup() {
      std::error_code e;
      fs::remove(p, e);
    }
  } remove_layer{layer};
  say(options, "[push] phase=pack environment=" + std::string{environment});
  if (auto st = write_rootfs_layer(rootfs, layer); !st)
    return st.err();
  oci_manifest m;
  auto layer_digest = file_digest(layer, m.layers.emplace_back().size);
  if (!layer_digest)
    return layer_digest.err();
  m.layers[0].digest = *layer_digest;
  m.layers[0].media_type = oci_layer_gzip_type;
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", json::object()},
                 {"rootfs",
                  {{"type", "layers"}, {"diff_ids", json::array()}}},
                 {"pyro", {{"environment", std::string{environment}}}}};
  auto config_text = config.dump();
  auto config_file = work_dir / ("config-" + std::to_string(::getpid()));
  cleanup remove_config{config_file};
  std::ofstream{config_file, std::ios::binary} << config_text;
  m.config = {oci_config_type, sha256_of(config_text), config_text.size()};
  registry_client client{ref->base_url, token_of(options)};
  push_report report;
  report.reference = std::string{reference};
  for (const auto& [digest, file, size] :
       {std::tuple{m.layers[0].digest, layer, m.layers[0].size},
        std::tuple{m.config.digest, config_file, m.config.size}}) {
    say(options, "[push] phase=upload environment=" + std::string{environment}
                   + " digest=" + digest + " bytes=" + std::to_string(size));
    if (auto st = client.push_blob(ref->repository, digest, file); !st)
      return st.err();
    report.blob_digests.push_back(digest);
    report.bytes += size;
  }
  auto body = render_manifest(m);
  if (auto st = client.put_manifest(ref->repository, ref->reference, body,
                                    oci_manifest_type);
      !st)
    return st.err();
  report.manifest_digest = sha256_of(body);
  say(options, "[push] phase=done environment=" + std::string{environment}
                 + " digest=" + report.manifest_digest);
  return report;
}

result<pulled_rootfs> pull_rootfs(std::string_view environment,
                                  std::string_view reference,
                                  const fs::path& rootfs,
                                  const fs::path& blob_dir,
                                  const registry_options& options) {
  auto ref = parse_registry_reference(reference);
  if (!ref)
    return ref.err();
  std::string env{environment};
  registry_client client{ref->base_url, token_of(options)};
  say(options, "[pull] phase=resolve environment=" + env + " reference="
                 + std::string{reference});
  auto fetched = client.get_manifest(ref->repository, ref->reference);
  if (!fetched)
    return fetched.err();
  auto parsed = parse_manifest(fetched->body, fetched->media_type);
  if (!parsed)
    return parsed.err();
  if (parsed->is_index) {
    fetched = client.get_manifest(ref->repository, parsed->platform_digest);
    if (!fetched)
      return fetched.err();
    parsed = parse_manifest(fetched->body, fetched->media_type);
    if (!parsed)
      return parsed.err();
    if (parsed->is_index)
      return make_error(error_code::invalid_argument,
                        "registry index points at another index",
                        "push a plain linux/amd64 image manifest");
  }
  pulled_rootfs out;
  out.reference = std::string{reference};
  out.manifest_digest = fetched->digest;
  out.config_digest = parsed->manifest.config.digest;
  std::vector<oci_descriptor> blobs = parsed->manifest.layers;
  blobs.push_back(parsed->manifest.config);
  for (const auto& b : blobs) {
    auto target = blob_path(blob_dir, b.digest);
    uint64_t last = 0;
    auto st = client.fetch_blob(ref->repository, b.digest, target,
                                [&](uint64_t n) {
                                  // One line per MiB keeps logs short.
                                  if (n - last >= (1u << 20)) {
                                    last = n;
                                    say(options, "[pull] phase=download "
                                                 "environment=" + env
                                                   + " digest=" + b.digest
                                                   + " bytes="
                                                   + std::to_string(n));
                                  }
                                });
    if (!st)
      return st.err();
    std::error_code ec;
    auto size = fs::file_size(target, ec);
    out.bytes += size;
    say(options, "[pull] phase=download environment=" + env + " digest="
                   + b.digest + " bytes=" + std::to_string(size));
  }
  // Re-check cached blobs: a blob file damaged after its download must
  // not be extracted.
  say(options, "[pull] phase=verify environment=" + env);
  for (const auto& b : blobs) {
    uint64_t size = 0;
    auto target = blob_path(blob_dir, b.digest);
    auto got = file_digest(target, size);
    if (!got)
      return got.err();
    if (*got != b.digest) {
      std::error_code ec;
      fs::remove(target, ec);
      return make_error(error_code::unavailable,
                        "cached blob digest mismatch: expected " + b.digest
                          + ", got " + *got,
                        "the damaged blob was removed; pull again");
    }
  }
  say(options, "[pull] phase=install environment=" + env);
  for (const auto& l : parsed->manifest.layers) {
    if (auto st = extract_rootfs_layer(blob_path(blob_dir, l.digest), rootfs);
        !st)
      return st.err();
    out.layer_digests.push_back(l.digest);
  }
  return out;
}

} // namespace pyro::vmm
