#include "vmm/agent_binary.hpp"

#include <cstdlib>

#include <unistd.h>

namespace pyro::vmm {

result<std::filesystem::path> agent_binary() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("PYRO_AGENT_BINARY");
      env != nullptr && *env != '\0') {
    if (::access(env, X_OK) == 0)
      return fs::path{env};
    return make_error(error_code::failed_precondition,
                      std::string{"PYRO_AGENT_BINARY="} + env
                        + " is not an executable file",
                      "point it at the pyro-agent binary from the build");
  }
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = self.parent_path() / "pyro-agent";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return make_error(error_code::failed_precondition,
                    "cannot find the pyro-agent binary beside "
                      + self.string(),
                    "build it with scripts/setup, or set PYRO_AGENT_BINARY");
}

} // namespace pyro::vmm
