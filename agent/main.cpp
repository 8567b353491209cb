// pyro-agent: the guest agent (docs/protocol.md).
//
//   pyro-agent --listen ADDRESS [--root DIR] [--sandbox] [--hostname N]
//              [--once] [--cgroup fd:N|DIR]
//
// ADDRESS is unix:PATH, vsock:PORT, vport:NAME or fd:N (an inherited
// listening socket: a parked sandbox binds it before the agent starts).
// Inside a sandbox it is PID 1 and the launcher has set up the mounts
// (--sandbox); in a VM it is first the initramfs's /init (PID 1, no
// arguments), which mounts the root disk and runs it again from there to do
// init duties; on the host (host-compat backend, tests) --root names the
// directory that plays "/". With --once it serves one connection and exits
// (a parked sandbox's baseline is taken that way). --cgroup names the
// cgroup in which each command gets a group of its own: an inherited
// descriptor (a sandbox's launcher opened it on the host), or a directory
// the agent moves itself into first (host-compat).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/init.hpp"
#include "agent/server.hpp"
#include "agent/version.hpp"
#include "agent/vm_boot.hpp"

int main(int argc, char** argv) {
  if (::getpid() == 1 && argc == 1)
    pyro::agent::boot_from_initramfs();
  pyro::agent::agent_context ctx;
  std::string listen;
  bool sandbox = false;
  bool once = false;
  std::string cgroup;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      return i + 1 < argc ? argv[++i] : std::string{};
    };
    if (arg == "--listen")
      listen = value();
    else if (arg == "--root")
      ctx.root = value();
    else if (arg == "--hostname")
      ctx.hostname = value();
    else if (arg == "--sandbox")
      sandbox = true;
    else if (arg == "--once")
      once = true;
    else if (arg == "--cgroup")
      cgroup = value();
    else if (arg == "--version") {
      std::printf("pyro-agent %s (protocol %d)\n", pyro::agent::agent_version,
                  pyro::agent::protocol_version);
      return 0;
    } else {
      std::fprintf(
        stderr,
        "pyro-agent: unknown argument '%s'\n"
        "usage: pyro-agent --listen unix:PATH|vsock:PORT|vport:NAME|fd:N "
        "[--root DIR] [--sandbox] [--hostname NAME] [--once] "
        "[--cgroup fd:N|DIR]\n",
        arg.c_str());
      return 2;
    }
  }
  if (listen.empty()) {
    std::fprintf(stderr, "pyro-agent: --listen ADDRESS is required\n");
    return 2;
  }
  ctx.mode = sandbox ? "sandbox" : (ctx.root == "/" ? "vm" : "host");
  if (!cgroup.empty()) {
    auto& tree = pyro::agent::cgroup_tree::instance();
    auto adopted = cgroup.rfind("fd:", 0) == 0
                     ? tree.adopt_fd(std::atoi(cgroup.c_str() + 3))
                     : tree.adopt_path(cgroup, true);
    if (!adopted) {
      std::fprintf(stderr, "pyro-agent: %s\n", adopted.err().message.c_str());
      return 1;
    }
  }
  if (auto ready = pyro::agent::prepare(ctx); !ready) {
    std::fprintf(stderr, "pyro-agent: %s\n", ready.err().message.c_str());
    return 1;
  }
  auto served = pyro::agent::serve(ctx, listen, once);
  if (served)
    return 0;
  std::fprintf(stderr, "pyro-agent: %s\n", served.err().message.c_str());
  return 1;
}
