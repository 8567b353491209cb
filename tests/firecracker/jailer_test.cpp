// The jailer's command line, its jail directory and when pyro uses it.

#include <cstdlib>
#include <fstream>

#include "fixtures.hpp"
#include "vmm/firecracker/jailer.hpp"

using namespace pyro;
using namespace pyro::vmm::firecracker;

using test::scoped_env;

TEST_CASE("jailer: its flags, then -- and Firecracker's own") {
  jailer_options o;
  o.jailer_binary = "/usr/bin/jailer";
  o.exec_file = "/usr/bin/firecracker";
  o.id = "ws-0123456789ab";
  o.uid = 123;
  o.gid = 100;
  o.chroot_base = "/home/u/pyro/workspaces/ws-0123456789ab/runtime/jail";
  o.cgroup_version = 2;
  CHECK(jailer_argv(o)
        == std::vector<std::string>{
          "/usr/bin/jailer", "--id", "ws-0123456789ab", "--exec-file",
          "/usr/bin/firecracker", "--uid", "123", "--gid", "100",
          "--chroot-base-dir",
          "/home/u/pyro/workspaces/ws-0123456789ab/runtime/jail",
          "--cgroup-version", "2", "--", "--api-sock", "/firecracker.sock"});
  CHECK(chroot_dir(o)
        == "/home/u/pyro/workspaces/ws-0123456789ab/runtime/jail/firecracker/"
           "ws-0123456789ab/root");
}

TEST_CASE("jailer: ids it accepts") {
  CHECK(jail_id("ws-0123456789ab"));
  CHECK(jail_id(std::string(64, 'a')));
  for (const std::string& bad : std::vector<std::string>{
         "", "ws_1", "ws.1", "a/b", std::string(65, 'a')}) {
    auto id = jail_id(bad);
    REQUIRE_FALSE(id);
    CHECK(id.err().code == error_code::invalid_argument);
    CHECK(id.err().message.find("'" + bad + "' cannot be a jailer id")
          != std::string::npos);
  }
}

TEST_CASE("jailer: found on PATH unless PYRO_FIRECRACKER_JAILER=0") {
  test::temp_dir dir;
  auto fake = dir.path() / "jailer";
  std::ofstream{fake} << "#!/bin/sh\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  scoped_env path{"PATH", dir.path().string()};
  {
    scoped_env off{"PYRO_FIRECRACKER_JAILER", "1"};
    CHECK(find_jailer() == fake);
  }
  {
    scoped_env off{"PYRO_FIRECRACKER_JAILER", "0"};
    CHECK_FALSE(find_jailer());
  }
  scoped_env empty_path{"PATH", (dir.path() / "nothing").string()};
  CHECK_FALSE(find_jailer());
}

TEST_CASE("jailer: the cgroup version follows the host") {
  bool unified = std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers");
  CHECK(host_cgroup_version() == (unified ? 2 : 1));
}
