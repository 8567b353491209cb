#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/environments/registry_fixture.hpp"
#include "tests/environments/tree_fixture.hpp"
#include "tests/unit/temp_dir.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/registry_install.hpp"

namespace fs = std::filesystem;
using namespace pyro;

namespace {

// An installed `busybox` in the current cache, as a local build leaves it.
void fake_install(const fs::path& cache) {
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache.c_str(), 1);
  auto dir = vmm::environment_install_dir("busybox");
  test::make_rootfs(dir / "rootfs");
  std::ofstream{dir / "install.json"}
    << R"({"complete": true, "name": "busybox", "source": "busybox"})";
}

} // namespace

TEST_CASE("environments push_environment then install_from_registry") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  auto cache_a = dir.path() / "a";
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache_a.c_str(), 1);
  auto missing = vmm::environment_rootfs("busybox");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == error_code::failed_precondition);
  CHECK(missing.err().hint.find("pyro env pull busybox") != std::string::npos);
  fake_install(cache_a);
  auto src = vmm::environment_rootfs("busybox");
  REQUIRE(src);
  auto base = "http://" + registry.host() + "/pyro";
  auto pushed = vmm::push_environment(
    "busybox", vmm::environment_reference(base, "busybox"), {});
  INFO(test::why(pushed));
  REQUIRE(pushed);

  auto cache_b = dir.path() / "b";
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache_b.c_str(), 1);
  std::vector<std::string> lines;
  vmm::registry_options opts;
  opts.progress = [&](std::string_view l) { lines.emplace_back(l); };
  auto got = vmm::install_from_registry("busybox", base, opts);
  INFO(test::why(got));
  REQUIRE(got);
  CHECK(got->pulled);
  CHECK(got->manifest_digest == pushed->manifest_digest);
  CHECK(vmm::environment_installed("busybox"));
  auto dst = vmm::environment_rootfs("busybox");
  REQUIRE(dst);
  CHECK(test::tree(*dst) == test::tree(*src));
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back().rfind("[pull] phase=ready environment=busybox", 0) == 0);
  // Installed already: nothing is fetched again.
  auto again = vmm::install_from_registry("busybox", base, {});
  REQUIRE(again);
  CHECK_FALSE(again->pulled);

  // A broken install (no complete install.json) is repaired.
  fs::remove(cache_b / "busybox" / "install.json");
  fs::remove(cache_b / "busybox" / "rootfs" / "bin" / "busybox");
  CHECK_FALSE(vmm::environment_installed("busybox"));
  auto repaired = vmm::install_from_registry("busybox", base, {});
  REQUIRE(repaired);
  CHECK(repaired->pulled);
  CHECK(test::tree(*dst) == test::tree(*src));
}

TEST_CASE("environments corrupted registry blob installs nothing") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  fake_install(dir.path() / "a");
  auto base = "http://" + registry.host() + "/pyro";
  auto pushed = vmm::push_environment(
    "busybox", vmm::environment_reference(base, "busybox"), {});
  REQUIRE(pushed);
  auto hex = pushed->blob_digests.at(0).substr(7);
  auto stored = registry.storage() / "docker/registry/v2/blobs/sha256"
                / hex.substr(0, 2) / hex / "data";
  {
    std::fstream f{stored, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(50);
    f.put('\x7f');
    f.put('\x00');
  }
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir.path() / "b").c_str(), 1);
  auto got = vmm::install_from_registry("busybox", base, {});
  REQUIRE_FALSE(got);
  CHECK(got.err().message.find("digest mismatch") != std::string::npos);
  CHECK(got.err().message.find(pushed->blob_digests.at(0))
        != std::string::npos);
  CHECK_FALSE(vmm::environment_installed("busybox"));
  CHECK_FALSE(fs::exists(vmm::environment_install_dir("busybox")));
  for (const auto& e : fs::directory_iterator(dir.path() / "b"))
    CHECK(e.path().filename().string().rfind(".staging-", 0)
          == std::string::npos);
}

TEST_CASE("environments concurrent registry installs do the work once") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  fake_install(dir.path() / "a");
  auto base = "http://" + registry.host() + "/pyro";
  REQUIRE(vmm::push_environment(
    "busybox", vmm::environment_reference(base, "busybox"), {}));
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir.path() / "b").c_str(), 1);
  std::atomic<int> pulled{0}, ok{0};
  std::mutex m;
  int resolves = 0;
  vmm::registry_options opts;
  opts.progress = [&](std::string_view l) {
    std::lock_guard<std::mutex> g{m};
    if (l.find("phase=resolve") != std::string_view::npos)
      ++resolves;
  };
  auto run = [&] {
    auto r = vmm::install_from_registry("busybox", base, opts);
    ok += r ? 1 : 0;
    pulled += r && r->pulled ? 1 : 0;
  };
  std::thread t1{run}, t2{run};
  t1.join();
  t2.join();
  CHECK(ok == 2);
  CHECK(pulled == 1);
  CHECK(resolves == 1);
  CHECK(vmm::environment_installed("busybox"));
}

TEST_CASE("environments prune_cached_blobs keeps blobs of installs only") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  fake_install(dir.path() / "a");
  auto base = "http://" + registry.host() + "/pyro";
  auto pushed = vmm::push_environment(
    "busybox", vmm::environment_reference(base, "busybox"), {});
  REQUIRE(pushed);
  auto cache = dir.path() / "b";
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", cache.c_str(), 1);
  REQUIRE(vmm::install_from_registry("busybox", base, {}));
  auto blobs = cache / "blobs" / "sha256";
  std::ofstream{blobs / std::string(64, 'c')} << "stale";
  std::ofstream{blobs / (std::string(64, 'd') + ".partial")} << "half";
  auto removed = vmm::prune_cached_blobs();
  REQUIRE(removed);
  CHECK(removed->size() == 2);
  CHECK_FALSE(fs::exists(blobs / std::string(64, 'c')));
  CHECK_FALSE(fs::exists(blobs / (std::string(64, 'd') + ".partial")));
  for (const auto& d : pushed->blob_digests)
    CHECK(fs::exists(blobs / d.substr(7)));
  // Once the install is gone its blobs go too.
  fs::remove_all(vmm::environment_install_dir("busybox"));
  removed = vmm::prune_cached_blobs();
  REQUIRE(removed);
  CHECK(removed->size() == 2);
  for (const auto& d : pushed->blob_digests)
    CHECK_FALSE(fs::exists(blobs / d.substr(7)));
}
