// pyro-sandbox: builds one namespace sandbox and leaves its agent running;
// also the watcher that closes a service's published ports when it exits.
// A separate executable so that namespace set-up happens in a fresh,
// single-threaded process, never in a fork of the multithreaded runtime.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "messages/sys/atomic_file.hpp"
#include "vmm/sandbox/launcher.hpp"
#include "vmm/sandbox/port_watch.hpp"

int main(int argc, char** argv) {
  if (argc >= 5 && std::strcmp(argv[1], "watch-ports") == 0) {
    std::set<int> ids;
    for (int i = 4; i < argc; ++i)
      ids.insert(std::atoi(argv[i]));
    return pyro::vmm::run_port_watch(argv[2], argv[3], ids);
  }
  if (argc != 3 || std::strcmp(argv[1], "launch") != 0) {
    std::fprintf(stderr, "usage: pyro-sandbox launch SPEC.json\n"
                         "       pyro-sandbox watch-ports RUNTIME_DIR SERVICE "
                         "FORWARD_ID...\n"
                         "(started by pyro; not meant to be run by hand)\n");
    return 2;
  }
  auto text = pyro::sys::read_file(argv[2]);
  if (!text) {
    std::fprintf(stderr, "%s\n", text.err().message.c_str());
    return 2;
  }
  auto spec = pyro::vmm::launch_spec_from_json(
    nlohmann::json::parse(*text, nullptr, false));
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.err().message.c_str());
    return 2;
  }
  return pyro::vmm::launch_sandbox(*spec);
}
