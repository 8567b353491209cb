#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "messages/error.hpp"
#include "messages/sys/unique_fd.hpp"

namespace pyro {

struct placed_export {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

/// Where an export lands on the host, and the only way it gets there. The
/// output names one entry in an existing directory: parents are resolved as
/// the user gave them (symlinks included), the entry itself never is. The
/// archive is written into a temporary directory beside it that this
/// process owns (`.pyro-export-<pid>-...`, which any later export removes
/// once its process is gone), then renamed into place in one step: a new
/// name appears whole, and with overwrite an existing entry is swapped out
/// (RENAME_EXCHANGE) and removed only after. Nothing else in the directory
/// is touched.
class export_target {
public:
  /// Checks the output: `already_exists` without overwrite, `not_found`
  /// for a missing directory, `invalid_argument` for a name that does not
  /// name an entry (empty, ".", ".." or a trailing '/').
  static result<export_target> resolve(const std::string& output,
                                       bool overwrite);

  /// The absolute output path, with its parent resolved.
  [[nodiscard]] const std::filesystem::path& path() const {
    return path_;
  }

  /// Unpacks `tar` (an agent export whose top entry is `artifact`) and
  /// moves that entry to the output.
  result<placed_export> place(const std::filesystem::path& tar,
                              const std::string& artifact);

private:
  export_target(std::filesystem::path path, sys::unique_fd dir,
                bool overwrite)
    : path_(std::move(path)), dir_(std::move(dir)), overwrite_(overwrite) {
    // nop
  }

  std::filesystem::path path_;
  sys::unique_fd dir_;
  bool overwrite_ = false;
};

} // namespace pyro
