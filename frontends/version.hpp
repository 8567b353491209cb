#pragma once

#include <string_view>

namespace pyro {

/// The product version, as `pyro --version` prints it.
constexpr std::string_view version() {
  return "0.1.0";
}

} // namespace pyro
