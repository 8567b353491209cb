#pragma once

// Whether an accelerator really boots the guest kernel. An openable
// /dev/kvm proves little: a paravirtual-only KVM opens fine and then fails
// stock kernels (at once, or after running them many times slower than
// emulation). So the probe boots the guest's own kernel and initramfs with
// `pyro.probe=1`, on which the agent prints a line and powers off before
// anything else, and accepts the accelerator only if that line appears
// within the deadline.

#include <chrono>
#include <string>

#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"

namespace pyro::vmm {

/// Boots `images` under `accel` (kvm or tcg); ok only when the guest
/// printed its line in time, with the evidence either way.
fact probe_accelerator(const vm_images& images, const std::string& accel,
                       std::chrono::milliseconds deadline);

/// The KVM verdict for stock guests, from a boot probe cached per host
/// kernel, QEMU and guest kernel; the cheap checks of `facts` first (no
/// probe runs when they already say no).
fact kvm_runs_stock_guests(const host_facts& facts, const vm_images& images);

} // namespace pyro::vmm
