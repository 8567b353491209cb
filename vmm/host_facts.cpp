#include "vmm/host_facts.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "vmm/agent_binary.hpp"
#include "vmm/sandbox/workspace_disk.hpp"
#include <sched.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::vmm {

namespace {

std::string slurp(const char* path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool cpu_flag(const std::string& cpuinfo, const std::string& flag) {
  std::istringstream lines{cpuinfo};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("flags", 0) != 0)
      continue;
    std::istringstream words{line.substr(line.find(':') + 1)};
    for (std::string word; words >> word;)
      if (word == flag)
        return true;
  }
  return false;
}

kvm_facts probe_kvm() {
  kvm_facts kvm;
  struct stat st {};
  kvm.exists = ::stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode);
  kvm.readable = kvm.exists && ::access("/dev/kvm", R_OK) == 0;
  kvm.writable = kvm.exists && ::access("/dev/kvm", W_OK) == 0;
  auto cpuinfo = slurp("/proc/cpuinfo");
  kvm.hardware_virtualization
    = cpu_flag(cpuinfo, "vmx") || cpu_flag(cpuinfo, "svm");
  if (!kvm.exists) {
    kvm.stock_guest = {false, "/dev/kvm does not exist"};
  } else if (!kvm.readable || !kvm.writable) {
    kvm.stock_guest = {false, "/dev/kvm is not readable and writable by "
                              "this user"};
  } else if (!kvm.hardware_virtualization) {
    // A /dev/kvm without vmx/svm is a paravirtual-only KVM (for example
    // inside a microVM): stock kernels fault on it.
    kvm.stock_guest = {false, "the CPU exposes neither vmx nor svm, so this "
                              "/dev/kvm only runs paravirtualised guests; "
                              "stock kernels need software emulation here"};
  } else {
    kvm.stock_guest = {true, "vmx/svm present and /dev/kvm accessible "
                             "(not yet confirmed by a boot probe)"};
  }
  return kvm;
}

// Every sandbox gets a user namespace, also when pyro runs as root: its
// root must not be the host's.
fact probe_namespaces(bool is_root) {
  int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
              | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
  pid_t pid = ::fork();
  if (pid < 0)
    return {false, "fork failed"};
  if (pid == 0)
    ::_exit(::unshare(flags) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // retry
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return {true, std::string{"user, mount, pid, net, uts, ipc and cgroup "
                              "namespaces can be created"}
                    + (is_root ? "; sandbox root is host id "
                                 "1000000000 and up, not root"
                               : "")};
  return {false, "unshare of the sandbox namespaces was refused (user "
                 "namespaces may be disabled by sysctl or a container)"};
}

fact probe_disk_limits(bool is_root) {
  if (!is_root)
    return {false, "--disk-mib needs pyro to run as root (a loop-mounted "
                   "image per workspace); unprivileged workspaces share "
                   "the host's file system"};
  if (!disk_limits_enforceable())
    return {false, "--disk-mib needs /dev/loop-control and mke2fs "
                   "(e2fsprogs)"};
  return {true, "each sandbox workspace writes into an ext4 image of its "
                "--disk-mib size"};
}

fact probe_overlayfs() {
  auto filesystems = slurp("/proc/filesystems");
  if (filesystems.find("\toverlay\n") != std::string::npos)
    return {true, "overlay is in /proc/filesystems"};
  return {false, "overlay is not in /proc/filesystems (the module may "
                 "load on first mount)"};
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in{text};
  for (std::string w; in >> w;)
    if (w == word)
      return true;
  return false;
}

// vcpu_count and mem_mib are enforced through whichever hierarchy offers
// writable cpu and memory controllers: unified (v2) first, then v1.
fact probe_cgroups() {
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    auto controllers
      = slurp((std::string{root} + "/cgroup.controllers").c_str());
    if (has_word(controllers, "cpu") && has_word(controllers, "memory")) {
      if (::access(root, W_OK) == 0)
        return {true, std::string{"cgroup v2 at "} + root
                        + " with cpu and memory controllers is writable"};
      return {false, std::string{"cgroup v2 at "} + root
                       + " is not writable by this user"};
    }
  }
  bool cpu = ::access("/sys/fs/cgroup/cpu/cgroup.procs", W_OK) == 0;
  bool memory = ::access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0;
  if (cpu && memory)
    return {true, "cgroup v1 cpu and memory hierarchies are writable"};
  return {false, "no writable cgroup hierarchy with cpu and memory "
                 "controllers, so vcpu_count and mem_mib are not enforced"};
}

fact probe_seccomp() {
  auto status = slurp("/proc/self/status");
  if (status.find("\nSeccomp:") != std::string::npos)
    return {true, "the kernel supports seccomp filters"};
  return {false, "the kernel reports no seccomp support"};
}

std::string platform_name(const utsname& u) {
  std::string out = std::string{u.sysname} + "-" + u.machine;
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

std::string find_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::istringstream in{dirs};
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty())
      continue;
    auto candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

host_facts probe_host() {
  host_facts facts;
  utsname u{};
  ::uname(&u);
  facts.platform = platform_name(u);
  facts.kernel_release = u.release;
  facts.is_root = ::geteuid() == 0;
  facts.kvm = probe_kvm();
  facts.namespaces = probe_namespaces(facts.is_root);
  facts.overlayfs = probe_overlayfs();
  facts.cgroups = probe_cgroups();
  facts.seccomp = probe_seccomp();
  facts.disk_limits = probe_disk_limits(facts.is_root);
  facts.qemu_binary = find_executable("qemu-system-x86_64");
  facts.firecracker_binary = find_executable("firecracker");
  facts.tun = ::access("/dev/net/tun", F_OK) == 0;
  facts.ip_forward = slurp("/proc/sys/net/ipv4/ip_forward").rfind("1", 0) == 0;
  return facts;
}

const host_facts& cached_host_facts() {
  static const host_facts facts = probe_host();
  return facts;
}

std::vector<backend_availability> backend_report(const host_facts& facts) {
  auto agent = agent_binary();
  std::vector<backend_availability> out;
  {
    backend_availability b{"firecracker", "guest_vsock", false, {}};
    if (facts.firecracker_binary.empty())
      b.reason = "no firecracker binary on PATH";
    else if (!facts.kvm.stock_guest.ok)
      b.reason = "KVM cannot run it: " + facts.kvm.stock_guest.reason;
    else if (!agent)
      b.reason = agent.err().message;
    else
      b = {"firecracker", "guest_vsock", true,
           "Firecracker microVMs on KVM (" + facts.kvm.stock_guest.reason
             + "); never booted for real in pyro's own tests"};
    out.push_back(std::move(b));
  }
  {
    backend_availability b{"qemu", "guest_serial", false, {}};
    auto helper = vm_helper_binary();
    if (facts.qemu_binary.empty())
      b.reason = "qemu-system-x86_64 is not installed";
    else if (!agent)
      b.reason = agent.err().message;
    else if (!helper)
      b.reason = helper.err().message;
    else if (facts.kvm.stock_guest.ok)
      b = {"qemu", "guest_serial", true,
           "QEMU microvm with KVM (" + facts.kvm.stock_guest.reason + ")"};
    else
      b = {"qemu", "guest_serial", true,
           "QEMU microvm under software emulation (TCG), since "
             + facts.kvm.stock_guest.reason
             + "; `auto` picks it only with KVM, ask for it with "
               "--backend qemu"};
    out.push_back(std::move(b));
  }
  {
    backend_availability b{"sandbox", "sandbox", false, {}};
    auto helper = sandbox_helper_binary();
    if (!facts.namespaces.ok)
      b.reason = facts.namespaces.reason;
    else if (!facts.overlayfs.ok)
      b.reason = facts.overlayfs.reason;
    else if (!agent)
      b.reason = agent.err().message;
    else if (!helper)
      b.reason = helper.err().message;
    else
      b = {"sandbox", "sandbox", true,
           std::string{facts.is_root ? "" : "unprivileged (user namespace), "}
             + "namespaces, overlayfs, seccomp; resource limits: "
             + std::string{facts.cgroups.ok ? "enforced" : "not enforced"}
             + " (" + facts.cgroups.reason + "); disk limits: "
             + std::string{facts.disk_limits.ok ? "enforced" : "not enforced"}};
    out.push_back(std::move(b));
  }
  {
    backend_availability b{"host", "host_compat", false, {}};
    if (!agent)
      b.reason = agent.err().message;
    else
      b = {"host", "host_compat", true,
           "no isolation; only with --backend host --allow-host-compat"};
    out.push_back(std::move(b));
  }
  return out;
}

nlohmann::json to_json(const host_facts& f) {
  auto j_fact = [](const fact& x) {
    return nlohmann::json{{"ok", x.ok}, {"reason", x.reason}};
  };
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  return nlohmann::json{
    {"platform", f.platform},
    {"kernel_release", f.kernel_release},
    {"is_root", f.is_root},
    {"kvm",
     {{"exists", f.kvm.exists},
      {"readable", f.kvm.readable},
      {"writable", f.kvm.writable},
      {"hardware_virtualization", f.kvm.hardware_virtualization},
      {"stock_guest", j_fact(f.kvm.stock_guest)}}},
    {"namespaces", j_fact(f.namespaces)},
    {"overlayfs", j_fact(f.overlayfs)},
    {"cgroups", j_fact(f.cgroups)},
    {"seccomp", j_fact(f.seccomp)},
    {"disk_limits", j_fact(f.disk_limits)},
    {"qemu_binary", or_null(f.qemu_binary)},
    {"firecracker_binary", or_null(f.firecracker_binary)},
    {"networking", {{"tun", f.tun}, {"ip_forward", f.ip_forward}}},
  };
}

nlohmann::json to_json(const backend_availability& b) {
  return nlohmann::json{{"name", b.name},
                        {"execution_mode", b.execution_mode},
                        {"available", b.available},
                        {"reason", b.reason}};
}

} // namespace pyro::vmm
