#pragma once

#include <string>

namespace pyro::vmm {

/// Drops every capability from the bounding set except the few a sandboxed
/// root needs for ordinary work (file ownership, setuid for su, kill,
/// binding low ports, chroot). Mount, mknod, module loading, raw I/O and
/// the like go. Returns an error message, or empty on success.
std::string drop_capabilities();

/// Sets no_new_privs and loads a seccomp filter refusing module loading,
/// kexec, bpf, perf_event_open, keyctl, mounting, namespace creation and
/// other calls no sandboxed work needs. Returns an error message, or empty.
std::string install_seccomp_filter();

} // namespace pyro::vmm
