// pyro-hostile-probe [HOST_PATH...]: see probe.hpp. Host paths that must
// not show in the sandbox's mount table come as arguments and in
// PYRO_PROBE_HOST_PATHS (colon-separated).

#include "probe.hpp"

#include <cstdlib>
#include <sstream>

int main(int argc, char** argv) {
  using namespace pyro::hostile;
  std::vector<std::string> host_paths{argv + 1, argv + argc};
  if (const char* env = std::getenv("PYRO_PROBE_HOST_PATHS")) {
    std::istringstream parts{env};
    for (std::string part; std::getline(parts, part, ':');)
      if (!part.empty())
        host_paths.push_back(part);
  }
  probe_sysctl();
  probe_proc();
  probe_host_paths(host_paths);
  probe_agent_socket();
  probe_ptrace();
  probe_mount();
  probe_namespaces();
  probe_kernel();
  probe_keyctl();
  probe_bpf();
  probe_perf();
  probe_io_uring();
  probe_raw_sockets();
  probe_devices();
  return 0;
}
