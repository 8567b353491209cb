#include "vmm/sandbox/confinement.hpp"

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pyro::vmm {

namespace {

constexpr std::initializer_list<int> kept_capabilities = {
  CAP_CHOWN,      CAP_DAC_OVERRIDE, CAP_FOWNER,
  CAP_FSETID,     CAP_KILL,         CAP_SETGID,
  CAP_SETUID,     CAP_SETPCAP,      CAP_NET_BIND_SERVICE,
  CAP_SYS_CHROOT, CAP_SETFCAP,      CAP_AUDIT_WRITE,
};

bool kept(int cap) {
  for (int k : kept_capabilities)
    if (k == cap)
      return true;
  return false;
}

// Refused with EPERM: what a process inside the sandbox has no business
// doing, and what would let it reach the host kernel's wider surface.
constexpr std::initializer_list<int> refused_syscalls = {
  SCMP_SYS(init_module),
  SCMP_SYS(finit_module),
  SCMP_SYS(delete_module),
  SCMP_SYS(kexec_load),
  SCMP_SYS(kexec_file_load),
  SCMP_SYS(bpf),
  SCMP_SYS(perf_event_open),
  SCMP_SYS(keyctl),
  SCMP_SYS(add_key),
  SCMP_SYS(request_key),
  SCMP_SYS(mount),
  SCMP_SYS(umount2),
  SCMP_SYS(pivot_root),
  SCMP_SYS(fsopen),
  SCMP_SYS(fsconfig),
  SCMP_SYS(fsmount),
  SCMP_SYS(fspick),
  SCMP_SYS(move_mount),
  SCMP_SYS(open_tree),
  SCMP_SYS(mount_setattr),
  SCMP_SYS(swapon),
  SCMP_SYS(swapoff),
  SCMP_SYS(reboot),
  SCMP_SYS(setns),
  SCMP_SYS(unshare),
  SCMP_SYS(open_by_handle_at),
  SCMP_SYS(name_to_handle_at),
  SCMP_SYS(acct),
  SCMP_SYS(settimeofday),
  SCMP_SYS(clock_settime),
  SCMP_SYS(clock_adjtime),
  SCMP_SYS(adjtimex),
  SCMP_SYS(iopl),
  SCMP_SYS(ioperm),
  SCMP_SYS(lookup_dcookie),
  SCMP_SYS(userfaultfd),
  SCMP_SYS(quotactl),
  SCMP_SYS(vhangup),
  SCMP_SYS(syslog),
  SCMP_SYS(uselib),
  // A second system call interface with its own long record of kernel
  // bugs; Docker's and gVisor's defaults refuse it too.
  SCMP_SYS(io_uring_setup),
  SCMP_SYS(io_uring_enter),
  SCMP_SYS(io_uring_register),
};

constexpr std::initializer_list<unsigned long> namespace_flags = {
  CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
  CLONE_NEWUTS,  CLONE_NEWIPC, CLONE_NEWCGROUP,
};

} // namespace

std::string drop_capabilities() {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (kept(cap))
      continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return "cannot drop capability " + std::to_string(cap) + ": "
             + std::strerror(errno);
  }
  // Root's permitted set after exec is the bounding set; also trim what this
  // process holds now and what it could pass on.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int cap : kept_capabilities) {
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
  }
  if (::syscall(SYS_capset, &header, data) != 0)
    return std::string{"capset failed: "} + std::strerror(errno);
  return {};
}

std::string install_seccomp_filter() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return std::string{"cannot set no_new_privs: "} + std::strerror(errno);
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr)
    return "seccomp_init failed";
  auto fail = [&](const std::string& what, int rc) {
    ::seccomp_release(ctx);
    return what + ": " + std::strerror(-rc);
  };
  for (int nr : refused_syscalls)
    if (nr >= 0)
      if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
          rc != 0)
        return fail("seccomp rule for syscall " + std::to_string(nr), rc);
  // clone3 hides its flags in memory a filter cannot read: make callers
  // fall back to clone, whose namespace flags are checked below.
  if (int rc
      = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
      rc != 0)
    return fail("seccomp rule for clone3", rc);
  for (auto flag : namespace_flags)
    if (int rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone),
                                    1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc != 0)
      return fail("seccomp rule for clone", rc);
  if (int rc = ::seccomp_load(ctx); rc != 0)
    return fail("seccomp_load", rc);
  ::seccomp_release(ctx);
  return {};
}

} // namespace pyro::vmm
