// The API calls pyro makes of Firecracker, checked twice: against JSON
// written out by hand, and against the required and known fields of each
// body type, transcribed from Firecracker's swagger definition
// (src/firecracker/swagger/firecracker.yaml, API version 1.x).

#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "vmm/firecracker/request_plan.hpp"

using namespace pyro;
using namespace pyro::vmm::firecracker;
using nlohmann::json;

namespace {

struct schema {
  std::set<std::string> required;
  std::set<std::string> known;
};

// definitions/<type>: required fields and every property the type has.
const std::map<std::string, schema>& schemas() {
  static const std::map<std::string, schema> table{
    {"MachineConfiguration",
     {{"vcpu_count", "mem_size_mib"},
      {"cpu_template", "smt", "mem_size_mib", "track_dirty_pages", "vcpu_count",
       "huge_pages"}}},
    {"BootSource",
     {{"kernel_image_path"},
      {"boot_args", "initrd_path", "kernel_image_path"}}},
    {"Drive",
     {{"drive_id", "is_root_device"},
      {"drive_id", "partuuid", "is_root_device", "cache_type", "is_read_only",
       "path_on_host", "rate_limiter", "io_engine", "socket"}}},
    {"Vsock",
     {{"guest_cid", "uds_path"}, {"guest_cid", "uds_path", "vsock_id"}}},
    {"NetworkInterface",
     {{"host_dev_name", "iface_id"},
      {"guest_mac", "host_dev_name", "iface_id", "mtu", "rx_rate_limiter",
       "tx_rate_limiter"}}},
    {"InstanceActionInfo", {{"action_type"}, {"action_type"}}},
    {"Vm", {{"state"}, {"state"}}},
    {"SnapshotCreateParams",
     {{"mem_file_path", "snapshot_path"},
      {"mem_file_path", "snapshot_path", "snapshot_type"}}},
    {"SnapshotLoadParams",
     {{"snapshot_path"},
      {"enable_diff_snapshots", "track_dirty_pages", "mem_file_path",
       "mem_backend", "snapshot_path", "resume_vm", "network_overrides",
       "vsock_override", "clock_realtime", "huge_pages"}}},
    {"MemoryBackend",
     {{"backend_type", "backend_path"}, {"backend_type", "backend_path"}}},
  };
  return table;
}

// paths/<path>/<method>: the body type of each call pyro makes.
std::string body_type(const api_request& r) {
  static const std::map<std::string, std::string> table{
    {"PUT /machine-config", "MachineConfiguration"},
    {"PUT /boot-source", "BootSource"},
    {"PUT /drives/rootfs", "Drive"},
    {"PUT /vsock", "Vsock"},
    {"PUT /network-interfaces/eth0", "NetworkInterface"},
    {"PUT /actions", "InstanceActionInfo"},
    {"PATCH /vm", "Vm"},
    {"PUT /snapshot/create", "SnapshotCreateParams"},
    {"PUT /snapshot/load", "SnapshotLoadParams"},
  };
  auto i = table.find(r.name());
  return i == table.end() ? std::string{} : i->second;
}

void check_against_schema(const std::string& type, const json& body) {
  INFO(type << ": " << body.dump());
  REQUIRE(schemas().count(type) == 1);
  const auto& s = schemas().at(type);
  REQUIRE(body.is_object());
  for (const auto& field : s.required)
    CHECK(body.contains(field));
  for (const auto& [field, value] : body.items()) {
    CHECK(s.known.count(field) == 1);
    if (field == "mem_backend")
      check_against_schema("MemoryBackend", value);
  }
}

void check_against_schema(const std::vector<api_request>& plan) {
  for (const auto& r : plan) {
    INFO(r.name());
    auto type = body_type(r);
    REQUIRE_FALSE(type.empty());
    check_against_schema(type, r.body);
  }
}

boot_description sample() {
  boot_description vm;
  vm.vcpu_count = 2;
  vm.mem_mib = 1024;
  vm.kernel_path = "/env/vm/vmlinux";
  vm.initrd_path = "/env/vm/initrd.img";
  vm.rootfs_path = "/ws/vm/rootfs.ext4";
  vm.boot_args = kernel_boot_args("ws-0123456789ab");
  vm.vsock_uds_path = "/ws/runtime/v.sock";
  return vm;
}

json as_json(const std::vector<api_request>& plan) {
  json out = json::array();
  for (const auto& r : plan)
    out.push_back({r.method, r.path, r.body});
  return out;
}

} // namespace

TEST_CASE("request plan: the kernel command line of a pyro guest") {
  CHECK(kernel_boot_args("ws-0123456789ab")
        == "console=ttyS0 reboot=k panic=-1 pci=off quiet "
           "pyro.hostname=ws-0123456789ab pyro.channel=vsock:1024");
}

TEST_CASE("request plan: boot without network, in Firecracker's order") {
  auto plan = boot_plan(sample());
  REQUIRE(plan);
  auto expected = json::parse(R"([
    ["PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 1024}],
    ["PUT", "/boot-source", {
      "kernel_image_path": "/env/vm/vmlinux",
      "initrd_path": "/env/vm/initrd.img",
      "boot_args": "console=ttyS0 reboot=k panic=-1 pci=off quiet pyro.hostname=ws-0123456789ab pyro.channel=vsock:1024"}],
    ["PUT", "/drives/rootfs", {
      "drive_id": "rootfs",
      "path_on_host": "/ws/vm/rootfs.ext4",
      "is_root_device": true,
      "is_read_only": false}],
    ["PUT", "/vsock", {"guest_cid": 3, "uds_path": "/ws/runtime/v.sock"}],
    ["PUT", "/actions", {"action_type": "InstanceStart"}]
  ])");
  CHECK(as_json(*plan) == expected);
  check_against_schema(*plan);
}

TEST_CASE("request plan: a TAP device becomes eth0 before the start") {
  auto vm = sample();
  vm.network = tap_interface{"tap-ws1", "06:00:ac:10:00:02"};
  auto plan = boot_plan(vm);
  REQUIRE(plan);
  REQUIRE(plan->size() == 6);
  CHECK((*plan)[4].name() == "PUT /network-interfaces/eth0");
  CHECK((*plan)[4].body
        == json::parse(R"({"iface_id": "eth0", "host_dev_name": "tap-ws1",
                           "guest_mac": "06:00:ac:10:00:02"})"));
  CHECK((*plan)[5].name() == "PUT /actions");
  check_against_schema(*plan);
}

TEST_CASE("request plan: without an initrd the field is left out") {
  auto vm = sample();
  vm.initrd_path.clear();
  auto plan = boot_plan(vm);
  REQUIRE(plan);
  CHECK((*plan)[1].body
        == json{{"kernel_image_path", "/env/vm/vmlinux"},
                {"boot_args", vm.boot_args}});
  check_against_schema(*plan);
}

TEST_CASE("request plan: values Firecracker would refuse are refused first") {
  auto refused = [](auto change, const std::string& what) {
    auto vm = sample();
    change(vm);
    auto plan = boot_plan(vm);
    REQUIRE_FALSE(plan);
    CHECK(plan.err().code == error_code::invalid_argument);
    INFO(plan.err().message);
    CHECK(plan.err().message.find(what) != std::string::npos);
  };
  refused([](auto& vm) { vm.vcpu_count = 0; }, "vcpu_count 0");
  refused([](auto& vm) { vm.vcpu_count = 33; }, "vcpu_count 33");
  refused([](auto& vm) { vm.mem_mib = 0; }, "mem_mib 0");
  refused([](auto& vm) { vm.guest_cid = 2; }, "guest CID 2");
  refused([](auto& vm) { vm.kernel_path.clear(); }, "kernel path");
  refused([](auto& vm) { vm.rootfs_path.clear(); }, "rootfs path");
  refused([](auto& vm) { vm.vsock_uds_path.clear(); }, "vsock socket path");
  refused([](auto& vm) { vm.network = tap_interface{}; }, "TAP device");
}

TEST_CASE("request plan: snapshot, resume and load") {
  auto create = snapshot_create_plan("/s/vm.state", "/s/vm.mem");
  CHECK(as_json(create) == json::parse(R"([
    ["PATCH", "/vm", {"state": "Paused"}],
    ["PUT", "/snapshot/create", {
      "snapshot_type": "Full",
      "snapshot_path": "/s/vm.state",
      "mem_file_path": "/s/vm.mem"}]
  ])"));
  check_against_schema(create);

  auto resume = resume_plan();
  CHECK(as_json(resume)
        == json::parse(R"([["PATCH", "/vm", {"state": "Resumed"}]])"));
  check_against_schema(resume);

  auto load = snapshot_load_plan("/s/vm.state", "/s/vm.mem", true);
  CHECK(as_json(load) == json::parse(R"([
    ["PUT", "/snapshot/load", {
      "snapshot_path": "/s/vm.state",
      "mem_backend": {"backend_type": "File", "backend_path": "/s/vm.mem"},
      "resume_vm": true}]
  ])"));
  check_against_schema(load);
  CHECK(snapshot_load_plan("a", "b", false)[0].body["resume_vm"] == false);
}
