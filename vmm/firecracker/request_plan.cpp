#include "vmm/firecracker/request_plan.hpp"

namespace pyro::vmm::firecracker {

using nlohmann::json;

namespace {

error bad(const std::string& what, const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "cannot configure the microVM: " + what + " " + why);
}

} // namespace

std::string kernel_boot_args(std::string_view workspace_id, int agent_port) {
  return "console=ttyS0 reboot=k panic=-1 pci=off quiet pyro.hostname="
         + std::string{workspace_id}
         + " pyro.channel=vsock:" + std::to_string(agent_port);
}

result<std::vector<api_request>> boot_plan(const boot_description& vm) {
  // Firecracker checks these too, but only after the process is up, and
  // with less to say about where the value came from.
  if (vm.vcpu_count < 1 || vm.vcpu_count > 32)
    return bad("vcpu_count " + std::to_string(vm.vcpu_count),
               "is outside 1..32");
  if (vm.mem_mib < 1)
    return bad("mem_mib " + std::to_string(vm.mem_mib), "must be positive");
  if (vm.guest_cid < default_guest_cid)
    return bad("guest CID " + std::to_string(vm.guest_cid),
               "is reserved (guests start at 3)");
  for (const auto& [what, value] :
       {std::pair{"kernel path", &vm.kernel_path},
        std::pair{"rootfs path", &vm.rootfs_path},
        std::pair{"vsock socket path", &vm.vsock_uds_path}})
    if (value->empty())
      return bad(what, "is empty");
  if (vm.network && vm.network->host_dev_name.empty())
    return bad("the network's TAP device", "has no name");

  std::vector<api_request> plan;
  plan.push_back(
    {"PUT",
     "/machine-config",
     {{"vcpu_count", vm.vcpu_count}, {"mem_size_mib", vm.mem_mib}}});
  json boot{{"kernel_image_path", vm.kernel_path}, {"boot_args", vm.boot_args}};
  if (!vm.initrd_path.empty())
    boot["initrd_path"] = vm.initrd_path;
  plan.push_back({"PUT", "/boot-source", std::move(boot)});
  // The id in the path must equal drive_id in the body.
  plan.push_back({"PUT",
                  "/drives/rootfs",
                  {{"drive_id", "rootfs"},
                   {"path_on_host", vm.rootfs_path},
                   {"is_root_device", true},
                   {"is_read_only", false}}});
  plan.push_back(
    {"PUT",
     "/vsock",
     {{"guest_cid", vm.guest_cid}, {"uds_path", vm.vsock_uds_path}}});
  if (vm.network) {
    json nic{{"iface_id", "eth0"},
             {"host_dev_name", vm.network->host_dev_name}};
    if (!vm.network->guest_mac.empty())
      nic["guest_mac"] = vm.network->guest_mac;
    plan.push_back({"PUT", "/network-interfaces/eth0", std::move(nic)});
  }
  plan.push_back({"PUT", "/actions", {{"action_type", "InstanceStart"}}});
  return plan;
}

std::vector<api_request>
snapshot_create_plan(const std::string& snapshot_path,
                     const std::string& mem_file_path) {
  return {{"PATCH", "/vm", {{"state", "Paused"}}},
          {"PUT",
           "/snapshot/create",
           {{"snapshot_type", "Full"},
            {"snapshot_path", snapshot_path},
            {"mem_file_path", mem_file_path}}}};
}

std::vector<api_request> resume_plan() {
  return {{"PATCH", "/vm", {{"state", "Resumed"}}}};
}

std::vector<api_request> snapshot_load_plan(const std::string& snapshot_path,
                                            const std::string& mem_file_path,
                                            bool resume_vm) {
  // mem_backend rather than the deprecated mem_file_path field; the two
  // exclude each other.
  return {{"PUT",
           "/snapshot/load",
           {{"snapshot_path", snapshot_path},
            {"mem_backend",
             {{"backend_type", "File"}, {"backend_path", mem_file_path}}},
            {"resume_vm", resume_vm}}}};
}

} // namespace pyro::vmm::firecracker
