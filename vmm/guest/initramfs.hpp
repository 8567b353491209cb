#pragma once

// The initramfs a guest boots with: the static agent as /init plus the
// kernel modules the stock Debian kernel needs for a virtio-mmio machine
// (block, console, ext4 and, for Firecracker, vsock), listed in load order
// in /lib/pyro/modules.order. The agent loads them, mounts the root disk and
// goes on from there (agent/vm_boot.cpp). Written uncompressed: under
// emulation decompressing costs more than reading the few extra MiB.

#include <filesystem>

#include "messages/error.hpp"
#include "vmm/guest/kernel_package.hpp"

namespace pyro::vmm {

status write_initramfs(const std::filesystem::path& out,
                       const guest_kernel& kernel,
                       const std::filesystem::path& agent);

} // namespace pyro::vmm
