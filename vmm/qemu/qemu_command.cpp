#include "vmm/qemu/qemu_command.hpp"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

namespace pyro::vmm {

using nlohmann::json;

std::string base_command_line(const qemu_settings& s) {
  // panic=-1 with -no-reboot: a guest whose PID 1 dies ends QEMU at once
  // instead of hanging until the boot timeout.
  std::string line = "console=ttyS0 panic=-1 quiet";
  if (s.tsc_khz > 0)
    line += " tsc_early_khz=" + std::to_string(s.tsc_khz);
  return line;
}

std::string kernel_command_line(const qemu_settings& s) {
  std::string line = base_command_line(s) + " root=/dev/vda pyro.channel=vport:"
                     + std::string{agent_port_name};
  if (!s.hostname.empty())
    line += " pyro.hostname=" + s.hostname;
  return line;
}

std::vector<std::string> qemu_machine_argv(const qemu_settings& s,
                                           const std::string& serial,
                                           const std::string& command_line) {
  return {
    s.binary,
    "-M",
    "microvm",
    "-accel",
    s.accel,
    "-m",
    std::to_string(s.mem_mib),
    "-smp",
    std::to_string(s.vcpu_count),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-serial",
    serial,
    "-kernel",
    s.kernel.string(),
    "-initrd",
    s.initrd.string(),
    "-append",
    command_line,
  };
}

std::vector<std::string> qemu_argv(const qemu_settings& s) {
  auto argv = qemu_machine_argv(s, "file:" + s.console_log.string(),
                                kernel_command_line(s));
  std::vector<std::string> devices = {
    "-drive",
    "id=root,file=" + s.disk.string() + ",format=" + s.disk_format
      + ",if=none,cache=writeback,discard=unmap",
    "-device",
    "virtio-blk-device,drive=root",
    "-device",
    "virtio-serial-device",
    "-chardev",
    "socket,id=agent,path=" + s.agent_socket.string() + ",server=on,wait=off",
    "-device",
    "virtserialport,chardev=agent,name=" + std::string{agent_port_name},
    "-qmp",
    "unix:" + s.qmp_socket.string() + ",server=on,wait=off",
  };
  argv.insert(argv.end(), devices.begin(), devices.end());
  if (!s.incoming.empty()) {
    argv.push_back("-incoming");
    argv.push_back("exec:cat " + s.incoming.string());
  }
  return argv;
}

long host_tsc_khz() {
  std::ifstream in{"/proc/cpuinfo"};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu MHz", 0) != 0)
      continue;
    auto colon = line.find(':');
    if (colon == std::string::npos)
      return 0;
    return std::lround(std::stod(line.substr(colon + 1)) * 1000.0);
  }
  return 0;
}

json to_json(const vm_launch& l) {
  return json{{"qemu_argv", l.qemu_argv},
              {"agent_socket", l.agent_socket.string()},
              {"relay_socket", l.relay_socket.string()},
              {"pid_file", l.pid_file.string()}};
}

result<vm_launch> vm_launch_from_json(const json& j) {
  try {
    vm_launch l;
    l.qemu_argv = j.at("qemu_argv").get<std::vector<std::string>>();
    l.agent_socket = j.at("agent_socket").get<std::string>();
    l.relay_socket = j.at("relay_socket").get<std::string>();
    l.pid_file = j.at("pid_file").get<std::string>();
    if (l.qemu_argv.empty())
      throw std::invalid_argument{"empty qemu_argv"};
    return l;
  } catch (const std::exception& e) {
    return make_error(error_code::invalid_argument,
                      std::string{"bad VM launch spec: "} + e.what());
  }
}

} // namespace pyro::vmm
