#include "vmm/firecracker/launch.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "vmm/firecracker/disk_copy.hpp"
#include "vmm/firecracker/jailer.hpp"

namespace pyro::vmm::firecracker {

namespace fs = std::filesystem;

namespace {

// What Firecracker sees of the VM's files inside its jail, at the jail's /.
constexpr const char* jailed_kernel = "vmlinux";
constexpr const char* jailed_initrd = "initrd.img";
constexpr const char* jailed_disk = "rootfs.ext4";
constexpr const char* api_socket_name = "firecracker.sock";
constexpr const char* vsock_name = "v.sock";

status stage(const fs::path& from, const fs::path& to, bool must_link) {
  std::error_code ec;
  fs::remove(to, ec);
  fs::create_hard_link(from, to, ec);
  if (!ec)
    return {};
  if (must_link)
    return make_error(error_code::failed_precondition,
                      "cannot link the workspace disk " + from.string()
                        + " into the jailer's root: " + ec.message(),
                      "the jail lives in the workspace's runtime dir, which "
                      "must be on the disk copy's file system; or set "
                      "PYRO_FIRECRACKER_JAILER=0");
  auto copied = copy_disk_image(from, to);
  if (!copied)
    return copied.err();
  return {};
}

} // namespace

nlohmann::json to_json(const vm_sockets& s) {
  return {{"api_socket", s.api.string()},
          {"vsock_socket", s.vsock.string()},
          {"jail", s.jail.string()}};
}

vm_sockets sockets_from_json(const nlohmann::json& j) {
  vm_sockets s;
  if (!j.is_object())
    return s;
  s.api = j.value("api_socket", "");
  s.vsock = j.value("vsock_socket", "");
  s.jail = j.value("jail", "");
  return s;
}

launch direct_launch(const fs::path& firecracker, const fs::path& runtime_dir,
                     const guest_image& image) {
  launch out;
  out.sockets.api = runtime_dir / api_socket_name;
  out.sockets.vsock = runtime_dir / vsock_name;
  out.argv = {firecracker.string(), "--api-sock", out.sockets.api.string()};
  out.vm.kernel_path = image.kernel.string();
  out.vm.initrd_path = image.initrd.string();
  out.vm.rootfs_path = image.disk.string();
  out.vm.vsock_uds_path = out.sockets.vsock.string();
  return out;
}

result<launch> jailed_launch(const fs::path& jailer,
                             const fs::path& firecracker, std::string_view id,
                             const fs::path& runtime_dir,
                             const guest_image& image) {
  auto valid_id = jail_id(id);
  if (!valid_id)
    return valid_id.err();
  std::error_code ec;
  jailer_options options;
  options.jailer_binary = jailer;
  // The jailer copies this file into the jail, so it must name the binary
  // itself, not a link to it.
  options.exec_file = fs::canonical(firecracker, ec);
  if (ec)
    return make_error(error_code::failed_precondition,
                      "cannot resolve the firecracker binary "
                        + firecracker.string() + ": " + ec.message());
  options.id = *valid_id;
  options.uid = ::getuid();
  options.gid = ::getgid();
  options.chroot_base = fs::absolute(runtime_dir / "jail");
  options.cgroup_version = host_cgroup_version();
  options.api_socket = std::string{"/"} + api_socket_name;
  auto root = chroot_dir(options);
  fs::create_directories(root, ec);
  if (ec)
    return make_error(error_code::internal, "cannot create the jail "
                                              + root.string() + ": "
                                              + ec.message());
  if (auto s = stage(image.kernel, root / jailed_kernel, false); !s)
    return s.err();
  if (!image.initrd.empty())
    if (auto s = stage(image.initrd, root / jailed_initrd, false); !s)
      return s.err();
  if (auto s = stage(image.disk, root / jailed_disk, true); !s)
    return s.err();
  launch out;
  out.argv = jailer_argv(options);
  out.sockets.api = root / api_socket_name;
  out.sockets.vsock = root / vsock_name;
  out.sockets.jail = options.chroot_base;
  out.vm.kernel_path = std::string{"/"} + jailed_kernel;
  if (!image.initrd.empty())
    out.vm.initrd_path = std::string{"/"} + jailed_initrd;
  out.vm.rootfs_path = std::string{"/"} + jailed_disk;
  out.vm.vsock_uds_path = std::string{"/"} + vsock_name;
  return out;
}

} // namespace pyro::vmm::firecracker
