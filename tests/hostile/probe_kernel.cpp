// kernel, keyctl, bpf, perf and io_uring: system calls that act on the
// whole kernel rather than on the sandbox.

#include "probe.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <unistd.h>

namespace pyro::hostile {

namespace {

constexpr const char* missing_path = "/nonexistent-pyro-hostile-probe";

call_result close_after(call_result r) {
  if (r.rc >= 0)
    ::close(static_cast<int>(r.rc));
  return r;
}

} // namespace

// Every call here passes arguments the kernel rejects after its permission
// check, so that nothing happens even where the caller is let through.
void probe_kernel() {
  constexpr const char* category = "kernel";
  const char garbage[64] = "not an ELF module";
  report_gate(category, "init_module",
              returned(::syscall(SYS_init_module, garbage, sizeof garbage, "")),
              {ENOEXEC, EINVAL, EFAULT, EBADMSG, ENOKEY, EKEYREJECTED});
  int fd = ::memfd_create("pyro-hostile-module", MFD_CLOEXEC);
  if (fd >= 0 && ::write(fd, garbage, sizeof garbage) != sizeof garbage) {
    ::close(fd);
    fd = -1;
  }
  report_gate(category, "finit_module",
              returned(::syscall(SYS_finit_module, fd, "", 0)),
              {ENOEXEC, EINVAL, EFAULT, EBADMSG, ENOKEY, EKEYREJECTED});
  if (fd >= 0)
    ::close(fd);
  report_gate(
    category, "delete_module",
    returned(::syscall(SYS_delete_module, "pyro_hostile_none", O_NONBLOCK)),
    {ENOENT});
  // More segments than KEXEC_SEGMENT_MAX; no segments at all would unload
  // a loaded crash kernel.
  report_gate(category, "kexec_load",
              returned(::syscall(SYS_kexec_load, 0ul, 1000ul, nullptr, 0ul)),
              {EINVAL});
  // A wrong second magic number, checked after CAP_SYS_BOOT.
  report_gate(category, "reboot CAD_OFF",
              returned(::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0,
                                 LINUX_REBOOT_CMD_CAD_OFF, nullptr)),
              {EINVAL});
  report_gate(category, "swapon",
              returned(::syscall(SYS_swapon, missing_path, 0)), {ENOENT});
  // Neither a time nor a zone: passes the CAP_SYS_TIME check, sets nothing.
  report_call(category, "settimeofday",
              returned(::syscall(SYS_settimeofday, nullptr, nullptr)),
              "allowed (set nothing)");
  // A tick outside +-10%, refused after the CAP_SYS_TIME check.
  struct timex tx {};
  tx.modes = ADJ_TICK;
  tx.tick = 1;
  report_gate(category, "clock_adjtime",
              returned(::syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx)),
              {EINVAL});
  report_gate(category, "acct", returned(::syscall(SYS_acct, missing_path)),
              {ENOENT});
  char byte;
  report_call(
    category, "syslog READ_ALL",
    returned(::syscall(SYS_syslog, 3 /* SYSLOG_ACTION_READ_ALL */, &byte, 1)),
    "read the kernel log");
}

void probe_keyctl() {
  constexpr const char* category = "keyctl";
  auto r = returned(::syscall(SYS_add_key, "user", "pyro-hostile-probe", "x", 1,
                              KEY_SPEC_SESSION_KEYRING));
  if (r.rc >= 0)
    ::syscall(SYS_keyctl, KEYCTL_INVALIDATE, r.rc);
  report_call(category, "add_key to the session keyring", r,
              "added (invalidated again)");
  report_call(category, "KEYCTL_JOIN_SESSION_KEYRING", in_child([] {
                return returned(
                  ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr));
              }),
              "joined a new session keyring");
}

void probe_bpf() {
  constexpr const char* category = "bpf";
  union bpf_attr map;
  std::memset(&map, 0, sizeof map);
  map.map_type = BPF_MAP_TYPE_ARRAY;
  map.key_size = 4;
  map.value_size = 4;
  map.max_entries = 1;
  report_call(
    category, "BPF_MAP_CREATE",
    close_after(returned(::syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof map))),
    "created a map");
  // r0 = 0; exit: a socket filter that drops everything.
  struct bpf_insn insns[2]{};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr prog;
  std::memset(&prog, 0, sizeof prog);
  prog.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  prog.insns = reinterpret_cast<uintptr_t>(insns);
  prog.insn_cnt = 2;
  prog.license = reinterpret_cast<uintptr_t>("GPL");
  report_call(category, "BPF_PROG_LOAD socket filter",
              close_after(returned(
                ::syscall(SYS_bpf, BPF_PROG_LOAD, &prog, sizeof prog))),
              "loaded a program");
}

void probe_perf() {
  constexpr const char* category = "perf";
  auto open_counter = [](int pid, int cpu) {
    perf_event_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return close_after(returned(::syscall(SYS_perf_event_open, &attr, pid, cpu,
                                          -1, PERF_FLAG_FD_CLOEXEC)));
  };
  report_call(category, "software counter on cpu 0, every process",
              open_counter(-1, 0), "opened");
  report_call(category, "software counter on itself", open_counter(0, -1),
              "opened");
}

void probe_io_uring() {
  io_uring_params params;
  std::memset(&params, 0, sizeof params);
  report_call("io_uring", "io_uring_setup",
              close_after(returned(::syscall(425, 1, &params))),
              "created a ring");
}

} // namespace pyro::hostile
