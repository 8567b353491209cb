#include "vmm/sandbox/launch_spec.hpp"

#include <nlohmann/json.hpp>

namespace pyro::vmm {

nlohmann::json to_json(const launch_spec& s) {
  return nlohmann::json{{"workspace_id", s.workspace_id},
                        {"lower", s.lower.string()},
                        {"layers", s.layers.string()},
                        {"disk_image", s.disk_image.string()},
                        {"socket_dir", s.socket_dir.string()},
                        {"agent_binary", s.agent_binary.string()},
                        {"pid_file", s.pid_file.string()},
                        {"log_file", s.log_file.string()},
                        {"vcpu_count", s.vcpu_count},
                        {"mem_mib", s.mem_mib},
                        {"network_policy", s.network_policy},
                        {"slirp_binary", s.slirp_binary.string()},
                        {"slirp_socket", s.slirp_socket.string()},
                        {"park", s.park},
                        {"owner_pid", s.owner_pid}};
}

result<launch_spec> launch_spec_from_json(const nlohmann::json& j) {
  try {
    launch_spec s;
    s.workspace_id = j.at("workspace_id").get<std::string>();
    s.lower = j.at("lower").get<std::string>();
    s.layers = j.at("layers").get<std::string>();
    s.disk_image = j.value("disk_image", std::string{});
    s.socket_dir = j.at("socket_dir").get<std::string>();
    s.agent_binary = j.at("agent_binary").get<std::string>();
    s.pid_file = j.at("pid_file").get<std::string>();
    s.log_file = j.at("log_file").get<std::string>();
    s.vcpu_count = j.at("vcpu_count").get<int>();
    s.mem_mib = j.at("mem_mib").get<int>();
    s.network_policy = j.at("network_policy").get<std::string>();
    s.slirp_binary = j.value("slirp_binary", std::string{});
    s.slirp_socket = j.value("slirp_socket", std::string{});
    s.park = j.value("park", false);
    s.owner_pid = j.value("owner_pid", 0);
    return s;
  } catch (const nlohmann::json::exception& e) {
    return make_error(error_code::invalid_argument,
                      std::string{"malformed sandbox launch spec: "}
                        + e.what());
  }
}

} // namespace pyro::vmm
