#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"
#include "messages/workspace_results.hpp"

namespace pyro {

/// The exec journal of one workspace: `commands/<sequence>.json`, one atomic
/// file per command, so concurrent writers never share a file and a crash
/// never truncates history.
class journal {
public:
  explicit journal(std::filesystem::path dir);

  status append(const journal_entry& entry) const;

  /// Every entry in sequence order; unreadable files are skipped and named
  /// in `problems`.
  std::vector<journal_entry> read_all(std::vector<std::string>* problems
                                      = nullptr) const;

  /// Removes every entry (reset).
  status clear() const;

private:
  std::filesystem::path dir_;
};

} // namespace pyro
