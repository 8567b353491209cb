#include "vmm/agent_binary.hpp"
#include "vmm/child_process.hpp"
#include "vmm/sandbox/port_watch.hpp"

namespace pyro::vmm {

status start_port_watch(const std::filesystem::path& runtime_dir,
                        const std::string& service, const std::set<int>& ids) {
  auto helper = sandbox_helper_binary();
  if (!helper)
    return helper.err();
  std::vector<std::string> argv{helper->string(), "watch-ports",
                                runtime_dir.string(), service};
  for (int id : ids)
    argv.push_back(std::to_string(id));
  auto started = spawn_detached(argv, (runtime_dir / "sandbox.log").string());
  if (!started)
    return started.err();
  return {};
}

} // namespace pyro::vmm
