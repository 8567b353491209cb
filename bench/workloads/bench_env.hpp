#pragma once

// A private PYRO_HOME and environment cache holding the offline busybox
// environment, for the duration of one workload.

#include <filesystem>
#include <string>

namespace pyro::bench {

class bench_env {
public:
  bench_env();
  ~bench_env();
  bench_env(const bench_env&) = delete;
  bench_env& operator=(const bench_env&) = delete;

  [[nodiscard]] std::filesystem::path home() const {
    return dir_ / "home";
  }

  /// Whether the busybox environment is installed (else `error` says why).
  [[nodiscard]] bool ready() const {
    return error_.empty();
  }

  [[nodiscard]] const std::string& error() const {
    return error_;
  }

private:
  std::filesystem::path dir_;
  std::string error_;
};

} // namespace pyro::bench
