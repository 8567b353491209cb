// pyro-agent: the guest agent (docs/protocol.md).
//
//   pyro-agent --listen unix:PATH [--root DIR] [--sandbox] [--hostname N]
//
// Inside a sandbox it is PID 1 and the launcher has set up the mounts
// (--sandbox); in a VM it is PID 1 and does init duties itself; on the host
// (host-compat backend, tests) --root names the directory that plays "/".

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/init.hpp"
#include "agent/server.hpp"
#include "agent/version.hpp"

int main(int argc, char** argv) {
  pyro::agent::agent_context ctx;
  std::string listen;
  bool sandbox = false;
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
    else if (arg == "--version") {
      std::printf("pyro-agent %s (protocol %d)\n", pyro::agent::agent_version,
                  pyro::agent::protocol_version);
      return 0;
    } else {
      std::fprintf(stderr,
                   "pyro-agent: unknown argument '%s'\n"
                   "usage: pyro-agent --listen unix:PATH "
                   "[--root DIR] [--sandbox] [--hostname NAME]\n",
                   arg.c_str());
      return 2;
    }
  }
  if (listen.rfind("unix:", 0) != 0) {
    std::fprintf(stderr, "pyro-agent: --listen unix:PATH is required\n");
    return 2;
  }
  ctx.mode = sandbox ? "sandbox" : (ctx.root == "/" ? "vm" : "host");
  if (auto ready = pyro::agent::prepare(ctx); !ready) {
    std::fprintf(stderr, "pyro-agent: %s\n", ready.err().message.c_str());
    return 1;
  }
  auto served = pyro::agent::serve(ctx, listen.substr(5));
  std::fprintf(stderr, "pyro-agent: %s\n", served.err().message.c_str());
  return 1;
}
