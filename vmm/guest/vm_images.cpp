#include "vmm/guest/vm_images.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/guest/initramfs.hpp"
#include "vmm/guest/kernel_package.hpp"
#include "vmm/host_facts.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

vm_images vm_images_of(const fs::path& install_dir) {
  return {install_dir / "vm"};
}

namespace {

// The initramfs carries the agent: a rebuilt agent makes the images stale.
json agent_stamp() {
  return binary_stamp(agent_binary());
}

} // namespace

json vm_images_info(const fs::path& install_dir) {
  auto images = vm_images_of(install_dir);
  auto text = sys::read_file(images.dir / "vm.json");
  if (!text)
    return nullptr;
  auto j = json::parse(*text, nullptr, false);
  std::error_code ec;
  if (!j.is_object() || j.value("agent", json{}) != agent_stamp()
      || !fs::exists(images.kernel(), ec) || !fs::exists(images.initrd(), ec)
      || !fs::exists(images.disk(), ec))
    return nullptr;
  return j;
}

bool environment_vm_ready(std::string_view name) {
  return vm_images_complete(environment_install_dir(name));
}

bool vm_images_complete(const fs::path& install_dir) {
  return !vm_images_info(install_dir).is_null();
}

bool vm_images_wanted() {
  if (const char* v = std::getenv("PYRO_VM_IMAGES"); v && *v)
    return std::string{v} != "0";
  return !find_executable("qemu-system-x86_64").empty()
         || !find_executable("firecracker").empty();
}

status
build_vm_images(const fs::path& install_dir,
                const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress)
      progress(line);
  };
  auto kernel = ensure_guest_kernel(progress);
  if (!kernel)
    return kernel.err();
  auto agent = agent_binary();
  if (!agent)
    return agent.err();
  auto name = install_dir.filename().string();
  std::error_code ec;
  auto staging = install_dir / (".vm-staging-" + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  auto fail = [&](const error& e) {
    fs::remove_all(staging, ec);
    return e;
  };
  vm_images built{staging};
  say("[pull] phase=vm-image environment=" + name
      + " kernel=" + kernel->release);
  // A hard link when the caches share a file system: kernels are ~40 MiB.
  fs::create_hard_link(kernel->vmlinux(), built.kernel(), ec);
  if (ec) {
    ec.clear();
    fs::copy_file(kernel->vmlinux(), built.kernel(), ec);
    if (ec)
      return fail(make_error(error_code::internal,
                             "cannot copy the kernel: " + ec.message()));
  }
  if (auto ok = write_initramfs(built.initrd(), *kernel, *agent); !ok)
    return fail(ok.err());
  if (auto ok = make_root_image(install_dir / "rootfs", built.disk()); !ok)
    return fail(ok.err());
  json info{{"kernel_package", kernel->package},
            {"kernel_release", kernel->release},
            {"disk_bytes", fs::file_size(built.disk(), ec)},
            {"agent", agent_stamp()},
            {"built_at", sys::unix_now()}};
  if (auto w = sys::write_file_atomic(staging / "vm.json", info.dump(2)); !w)
    return fail(w.err());
  auto final_dir = vm_images_of(install_dir).dir;
  fs::remove_all(final_dir, ec);
  fs::rename(staging, final_dir, ec);
  if (ec)
    return fail(
      make_error(error_code::internal, "cannot install the VM images of " + name
                                         + ": " + ec.message()));
  return {};
}

} // namespace pyro::vmm
