#pragma once

namespace pyro::agent {

/// The first stage of a VM's PID 1, run from the initramfs the host built
/// (vmm/guest/initramfs.hpp): loads the kernel modules listed in
/// /lib/pyro/modules.order, mounts the root disk, moves into it and
/// re-executes the agent from a tmpfs there, serving the channel named by
/// `pyro.channel=` on the kernel command line. Never returns: on failure it
/// says why on the console and powers the VM off, so the host sees a dead
/// guest at once instead of waiting out its boot timeout.
[[noreturn]] void boot_from_initramfs();

} // namespace pyro::agent
