#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "messages/error.hpp"

namespace pyro {

/// One journalled exec (`workspace logs`).
struct journal_entry {
  int64_t sequence = 0;
  std::string command;
  std::string cwd;
  int exit_code = -1;
  /// The signal that ended the command, or 0.
  int signal = 0;
  bool timed_out = false;
  int64_t duration_ms = 0;
  double started_at = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool truncated = false;
};

nlohmann::json to_json(const journal_entry& entry);
result<journal_entry> journal_entry_from_json(const nlohmann::json& j);

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
