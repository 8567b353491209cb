#include "vmm/firecracker/jailer.hpp"

#include <cstdlib>

#include <unistd.h>

#include "vmm/host_facts.hpp"

namespace pyro::vmm::firecracker {

std::vector<std::string> jailer_argv(const jailer_options& o) {
  return {o.jailer_binary.string(),
          "--id",
          o.id,
          "--exec-file",
          o.exec_file.string(),
          "--uid",
          std::to_string(o.uid),
          "--gid",
          std::to_string(o.gid),
          "--chroot-base-dir",
          o.chroot_base.string(),
          "--cgroup-version",
          std::to_string(o.cgroup_version),
          "--",
          "--api-sock",
          o.api_socket};
}

std::filesystem::path chroot_dir(const jailer_options& o) {
  return o.chroot_base / o.exec_file.filename() / o.id / "root";
}

result<std::string> jail_id(std::string_view id) {
  bool valid = !id.empty() && id.size() <= 64;
  for (char c : id)
    valid = valid
            && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '-');
  if (!valid)
    return make_error(error_code::invalid_argument,
                      "'" + std::string{id}
                        + "' cannot be a jailer id (1 to 64 letters, digits "
                          "and hyphens)",
                      "set PYRO_FIRECRACKER_JAILER=0 to run without the "
                      "jailer");
  return std::string{id};
}

std::optional<std::filesystem::path> find_jailer() {
  const char* env = std::getenv("PYRO_FIRECRACKER_JAILER");
  if (env != nullptr && std::string_view{env} == "0")
    return std::nullopt;
  auto found = find_executable("jailer");
  if (found.empty())
    return std::nullopt;
  return std::filesystem::path{found};
}

int host_cgroup_version() {
  return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? 2 : 1;
}

} // namespace pyro::vmm::firecracker
