// pyro-vm: the supervisor of one QEMU guest (docs/backends.md, "QEMU").
//
//   pyro-vm run SPEC.json
//
// Started detached by the qemu backend, it outlives the pyro process that
// created the workspace, like a sandbox does. It records itself in the
// runtime dir's pid file (so any pyro process finds the VM again), runs
// QEMU as its child (which dies with it), and relays the agent: every
// connection to the relay socket becomes a channel over the guest's single
// virtio-serial port (messages/wire/mux.hpp). It exits when QEMU does; TERM
// ends QEMU first.

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/wire/mux.hpp"
#include "vmm/process_identity.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace {

using namespace pyro;
using namespace std::chrono_literals;

volatile pid_t qemu_pid = 0;

extern "C" void on_stop(int) {
  if (qemu_pid > 0)
    ::kill(qemu_pid, SIGTERM);
}

int fail(const std::string& why) {
  std::fprintf(stderr, "pyro-vm: %s\n", why.c_str());
  if (qemu_pid > 0)
    ::kill(qemu_pid, SIGKILL);
  return 1;
}

bool fill_address(sockaddr_un& addr, const std::string& path) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// QEMU creates its end of the channel shortly after it starts.
int connect_agent_channel(const std::string& path) {
  sockaddr_un addr{};
  if (!fill_address(addr, path))
    return -1;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(qemu_pid, nullptr, WNOHANG) == qemu_pid)
      return -1;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      return fd;
    ::close(fd);
    std::this_thread::sleep_for(5ms);
  }
  return -1;
}

// Bound under a temporary name and renamed, so the relay path never exists
// before it accepts.
int listen_relay(const std::string& path) {
  auto staged = path + ".tmp";
  sockaddr_un addr{};
  if (!fill_address(addr, staged))
    return -1;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(staged.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || ::listen(fd, 512) != 0)
    return -1;
  ::chmod(staged.c_str(), 0600);
  if (::rename(staged.c_str(), path.c_str()) != 0)
    return -1;
  return fd;
}

int exit_code_of(int wstatus) {
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string{argv[1]} != "run") {
    std::fprintf(stderr, "usage: pyro-vm run SPEC.json\n");
    return 2;
  }
  auto text = sys::read_file(argv[2]);
  if (!text)
    return fail(text.err().message);
  auto launch
    = vmm::vm_launch_from_json(nlohmann::json::parse(*text, nullptr, false));
  if (!launch)
    return fail(launch.err().message);
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
  std::signal(SIGHUP, on_stop);
  std::signal(SIGPIPE, SIG_IGN);
  if (auto w = sys::write_file_atomic(
        launch->pid_file, vmm::process_identity_of(::getpid()).dump());
      !w)
    return fail(w.err().message);

  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child < 0)
    return fail(std::string{"fork: "} + std::strerror(errno));
  if (child == 0) {
    // The guest must not outlive its supervisor, whatever kills it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(1);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
    std::vector<char*> args;
    for (auto& a : launch->qemu_argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "pyro-vm: cannot run %s: %s\n", args[0],
                 std::strerror(errno));
    ::_exit(127);
  }
  qemu_pid = child;

  int trunk = connect_agent_channel(launch->agent_socket.string());
  if (trunk < 0)
    return fail("QEMU exited or never opened " + launch->agent_socket.string());
  int relay = listen_relay(launch->relay_socket.string());
  if (relay < 0)
    return fail("cannot listen on " + launch->relay_socket.string() + ": "
                + std::strerror(errno));
  wire::mux_pump::options opts;
  opts.listen_fd = relay;
  opts.send_reset = true;
  auto pumped = wire::mux_pump{trunk, std::move(opts)}.run();
  ::unlink(launch->relay_socket.c_str());
  ::close(relay);

  // The channel closes when QEMU exits; give it a moment, then make sure.
  int wstatus = 0;
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(child, &wstatus, WNOHANG) == child)
      return exit_code_of(wstatus);
    std::this_thread::sleep_for(10ms);
  }
  std::fprintf(stderr, "pyro-vm: %s; stopping QEMU\n",
               pumped ? "relay ended" : pumped.err().message.c_str());
  ::kill(child, SIGKILL);
  ::waitpid(child, &wstatus, 0);
  return exit_code_of(wstatus);
}
