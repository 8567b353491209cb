#pragma once

// Which kernel modules a guest needs, in the order to load them. Debian's
// kernel package ships no modules.dep (depmod writes it on install, and we
// never install the package on the host), so dependencies come from each
// module's own .modinfo section: `depends=` and `softdep=pre:`.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "messages/error.hpp"

namespace pyro::vmm {

struct module_info {
  std::string name;
  /// Relative to the modules root (lib/modules/<release>).
  std::filesystem::path path;
  std::vector<std::string> depends;
  /// `softdep=pre:` names: modules or aliases to load first when present.
  std::vector<std::string> pre;
  std::vector<std::string> aliases;
};

/// The key=value strings of a module's .modinfo ELF section.
result<std::map<std::string, std::vector<std::string>>>
read_modinfo(const std::filesystem::path& ko);

/// Every .ko under `root`, by module name (dashes read as underscores).
result<std::map<std::string, module_info>>
scan_modules(const std::filesystem::path& root);

/// `wanted` and everything they need, each after its dependencies; a name
/// that is neither a module nor an alias of one is an error naming it, an
/// unresolvable soft dependency is skipped.
result<std::vector<module_info>>
load_order(const std::map<std::string, module_info>& modules,
           const std::vector<std::string>& wanted);

} // namespace pyro::vmm
