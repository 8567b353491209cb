#include "agent/vm_boot.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pyro::agent {

namespace {

constexpr const char* new_root = "/newroot";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "pyro-agent: boot failed: %s\n", what.c_str());
  ::sync();
  ::reboot(RB_POWER_OFF);
  ::_exit(1);
}

std::string cmdline_value(const std::string& key, std::string fallback) {
  std::ifstream in{"/proc/cmdline"};
  std::string word;
  while (in >> word)
    if (word.rfind(key + "=", 0) == 0)
      return word.substr(key.size() + 1);
  return fallback;
}

void must_mount(const char* source, const char* target, const char* type,
                unsigned long flags, const char* data = nullptr) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, data) != 0)
    fail(std::string{"mount "} + target + ": " + std::strerror(errno));
}

// Lines are "GROUP PATH": the base group always, vsock only for a vsock
// channel (loading it costs time under emulation and is useless without).
void load_modules(bool vsock) {
  std::ifstream order{"/lib/pyro/modules.order"};
  for (std::string group, rel; order >> group >> rel;) {
    if (group != "base" && !(group == "vsock" && vsock))
      continue;
    auto path = "/lib/modules/" + rel;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail("cannot open " + path + ": " + std::strerror(errno));
    long loaded = ::syscall(SYS_finit_module, fd, "", 0);
    int err = errno;
    ::close(fd);
    if (loaded != 0 && err != EEXIST)
      fail("cannot load " + path + ": " + std::strerror(err));
  }
}

void wait_for(const std::string& device) {
  struct stat st {};
  for (int i = 0; i < 1000; ++i) {
    if (::stat(device.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  fail(device + " did not appear within 10 s");
}

void copy_file(const char* from, const std::string& to) {
  std::ifstream in{from, std::ios::binary};
  std::ofstream out{to, std::ios::binary};
  out << in.rdbuf();
  out.close();
  if (!in || !out)
    fail("cannot copy the agent to " + to);
  ::chmod(to.c_str(), 0755);
}

} // namespace

void boot_from_initramfs() {
  must_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  must_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  must_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (cmdline_value("pyro.probe", "") == "1") {
    // The host asks only whether this kernel runs at all (vmm/qemu/kvm_probe).
    std::fprintf(stderr, "pyro-probe-ok\n");
    ::reboot(RB_POWER_OFF);
  }
  auto channel = cmdline_value("pyro.channel", "vport:org.pyro.agent");
  load_modules(channel.rfind("vsock:", 0) == 0);
  auto device = cmdline_value("pyro.root", "/dev/vda");
  wait_for(device);
  ::mkdir(new_root, 0755);
  if (::mount(device.c_str(), new_root, "ext4", 0, nullptr) != 0)
    fail("cannot mount " + device + ": " + std::strerror(errno));
  // The agent keeps running from the root disk's /run, a tmpfs that
  // init duties leave in place.
  auto run = std::string{new_root} + "/run";
  must_mount("tmpfs", run.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  copy_file("/init", run + "/pyro-agent");
  for (const char* dir : {"/dev", "/proc", "/sys"}) {
    auto target = std::string{new_root} + dir;
    ::mkdir(target.c_str(), 0755);
    if (::mount(dir, target.c_str(), nullptr, MS_MOVE, nullptr) != 0)
      fail(std::string{"cannot move "} + dir + ": " + std::strerror(errno));
  }
  ::unlink("/init");
  if (::chdir(new_root) != 0
      || ::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 || ::chroot(".") != 0
      || ::chdir("/") != 0)
    fail(std::string{"cannot switch to the root disk: "}
         + std::strerror(errno));
  const char* argv[]
    = {"/run/pyro-agent", "--listen", channel.c_str(), nullptr};
  ::execv(argv[0], const_cast<char* const*>(argv));
  fail(std::string{"cannot run the agent: "} + std::strerror(errno));
}

} // namespace pyro::agent
