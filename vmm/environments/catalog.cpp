#include "vmm/environments/catalog.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/home_dirs.hpp"

namespace pyro::vmm {

const std::vector<environment_spec>& environment_catalog() {
  static const std::vector<environment_spec> catalog{
    {"debian:12",
     "Debian 12 environment with Git preinstalled for common agent workflows.",
     {"bash", "coreutils", "git", "ca-certificates"},
     "minbase",
     false},
    {"debian:12-base",
     "Minimal Debian 12 environment for shell and core Unix tooling.",
     {"bash", "coreutils"},
     "minbase",
     false},
    {"debian:12-build",
     "Debian 12 environment with Git and common build tools preinstalled.",
     {"bash", "coreutils", "git", "ca-certificates", "build-essential",
      "pkg-config", "python3"},
     "minbase",
     false},
    {"busybox",
     "Tiny offline test environment: Debian's busybox-static plus the agent.",
     {"busybox-static"},
     "busybox",
     true},
  };
  return catalog;
}

const environment_spec* find_environment(std::string_view name) {
  for (const auto& spec : environment_catalog())
    if (spec.name == name)
      return &spec;
  return nullptr;
}

error unknown_environment(std::string_view name) {
  return make_error(error_code::not_found,
                    "unknown environment '" + std::string{name} + "'",
                    "`pyro env list` shows the catalog");
}

std::string_view default_environment() {
  return "debian:12";
}

std::string_view catalog_version() {
  return "1";
}

std::filesystem::path environment_cache_dir() {
  if (const char* dir = std::getenv("PYRO_ENVIRONMENT_CACHE_DIR");
      dir != nullptr && *dir != '\0')
    return dir;
  return sys::user_cache_home() / "pyro" / "environments";
}

std::filesystem::path environment_install_dir(std::string_view name) {
  std::string safe{name};
  for (auto& c : safe)
    if (c == ':' || c == '/')
      c = '_';
  return environment_cache_dir() / safe;
}

namespace {

constexpr std::string_view leftover_prefixes[] = {".staging-", ".old-"};

} // namespace

bool is_install_leftover(std::string_view file_name) {
  for (auto prefix : leftover_prefixes)
    if (file_name.substr(0, prefix.size()) == prefix)
      return true;
  return false;
}

const environment_spec* leftover_owner(std::string_view file_name) {
  for (auto prefix : leftover_prefixes) {
    if (file_name.substr(0, prefix.size()) != prefix)
      continue;
    auto rest = file_name.substr(prefix.size());
    // The directory name itself may hold '-' (debian_12-base): only the
    // last part is the pid or "old".
    auto dash = rest.rfind('-');
    if (dash == std::string_view::npos)
      return nullptr;
    for (const auto& spec : environment_catalog())
      if (environment_install_dir(spec.name).filename() == rest.substr(0, dash))
        return &spec;
    return nullptr;
  }
  return nullptr;
}

std::filesystem::path environment_pull_lock(std::string_view name) {
  return environment_cache_dir() / ".locks"
         / (environment_install_dir(name).filename().string() + ".lock");
}

bool environment_installed(std::string_view name) {
  auto text = sys::read_file(environment_install_dir(name) / "install.json");
  if (!text)
    return false;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() && j.value("complete", false);
}

nlohmann::json to_json(const environment_spec& spec) {
  return nlohmann::json{{"name", spec.name},
                        {"description", spec.description},
                        {"packages", spec.packages},
                        {"installed", environment_installed(spec.name)},
                        {"test_only", spec.test_only}};
}

} // namespace pyro::vmm
