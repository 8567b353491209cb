// `pyro`: the thin client. It parses the command line, forwards the call
// to the resident server of PYRO_HOME (starting one when none runs and
// PYRO_SERVER=auto) and prints the answer; it links no runtime (no CAF,
// libgit2, libarchive, libcurl or libseccomp), so such a call costs little
// more than a process start.
// Everything else (PYRO_SERVER=off, a server that cannot start or is set up
// with another environment, `server ...`, `mcp serve`, `demo`) is handed,
// argv unchanged, to `pyro-runtime` beside it, which serves the call
// itself.

#include <cerrno>
#include <cstdlib> // setenv
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "frontends/cli/output.hpp"
#include "frontends/cli/parsed_command.hpp"
#include "frontends/server/server_client.hpp"
#include "messages/sys/home_dirs.hpp"

namespace {

int hand_to_runtime(char** argv, bool as_json) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto runtime = self.parent_path() / "pyro-runtime";
  ::execv(runtime.c_str(), argv);
  return pyro::cli::report_error(
    pyro::make_error(pyro::error_code::internal,
                     "cannot run " + runtime.string() + ": "
                       + std::strerror(errno),
                     "pyro-runtime is installed beside pyro; reinstall"),
    as_json);
}

} // namespace

int main(int argc, char** argv) {
  using namespace pyro::cli;
  auto parsed = parse_command_line({argv, argv + argc});
  if (parsed.failure)
    return report_error(*parsed.failure, parsed.as_json);
  if (parsed.op == nullptr)
    return parsed.exit_status;
  const auto& op = *parsed.op;
  using pyro::server::server_use;
  if (forwardable(op)) {
    // Starting on demand is opt-in (PYRO_SERVER=auto) while the suite does
    // not yet pass with a server behind every call (docs/server.md).
    bool start = pyro::server::server_use_from_environment() == server_use::start;
    if (auto forwarded = pyro::server::call_server(
          pyro::sys::pyro_home(), op, parsed.args, print_progress, start))
      return finish(op, parsed.args, *forwarded, parsed.as_json);
    // Asked once: the runtime serves the call without asking again.
    ::setenv("PYRO_SERVER", "off", 1);
  }
  return hand_to_runtime(argv, parsed.as_json);
}
