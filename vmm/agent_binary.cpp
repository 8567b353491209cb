#include "vmm/agent_binary.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <unistd.h>

namespace pyro::vmm {

namespace fs = std::filesystem;

result<fs::path> companion_binary(std::string_view name, const char* env_var) {
  if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') {
    if (::access(env, X_OK) == 0)
      return fs::path{env};
    return make_error(
      error_code::failed_precondition,
      std::string{env_var} + "=" + env + " is not an executable file",
      "point it at the " + std::string{name} + " binary from the build");
  }
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = self.parent_path() / name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return make_error(
    error_code::failed_precondition,
    "cannot find the " + std::string{name} + " binary beside " + self.string(),
    "build it with scripts/setup, or set " + std::string{env_var});
}

result<fs::path> agent_binary() {
  return companion_binary("pyro-agent", "PYRO_AGENT_BINARY");
}

result<fs::path> sandbox_helper_binary() {
  return companion_binary("pyro-sandbox", "PYRO_SANDBOX_BINARY");
}

result<fs::path> vm_helper_binary() {
  return companion_binary("pyro-vm", "PYRO_VM_BINARY");
}

nlohmann::json binary_stamp(const result<fs::path>& binary) {
  if (!binary)
    return nullptr;
  std::error_code ec;
  auto size = fs::file_size(*binary, ec);
  auto mtime = fs::last_write_time(*binary, ec).time_since_epoch().count();
  return nlohmann::json{{"size", size}, {"mtime", mtime}};
}

} // namespace pyro::vmm
