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

  /// Stores `entry` as the command after `last` (the caller's count) and
  /// returns the sequence number it got. Never over an existing entry: if
  /// one is there (a crash took the count back), it goes after the last.
  result<int64_t> append_next(journal_entry entry, int64_t last) const;

  /// The highest sequence number stored; 0 for none.
  [[nodiscard]] int64_t last_sequence() const;

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
