#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pyro::test {

/// A fresh directory under /tmp, removed with everything in it on
/// destruction. Short paths keep Unix sockets under 108 bytes.
class temp_dir {
public:
  temp_dir() {
    std::string templ = "/tmp/pyro-test-XXXXXX";
    path_ = ::mkdtemp(templ.data());
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const {
    return path_;
  }

private:
  std::filesystem::path path_;
};

} // namespace pyro::test
