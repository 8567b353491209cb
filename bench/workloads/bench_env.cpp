#include "bench/workloads/bench_env.hpp"

#include <cstdlib>

#include <unistd.h>

#include "vmm/environment_install.hpp"

namespace pyro::bench {

bench_env::bench_env() {
  std::string tmpl = "/tmp/pyro-bench-XXXXXX";
  dir_ = ::mkdtemp(tmpl.data());
  ::setenv("PYRO_ENVIRONMENT_CACHE_DIR", (dir_ / "cache").c_str(), 1);
  ::setenv("PYRO_HOME", home().c_str(), 1);
  ::setenv("PYRO_BACKEND", "sandbox", 1);
  if (auto env = vmm::pull_environment("busybox", {}, false,
                                       vmm::vm_images_policy::never);
      !env)
    error_ = env.err().message;
}

bench_env::~bench_env() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

} // namespace pyro::bench
