#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "messages/error.hpp"

namespace pyro {

/// One line of a hunk: ' ' context, '-' removed, '+' added.
struct hunk_line {
  char kind = ' ';
  std::string text; ///< without the trailing newline
  /// Followed by "\ No newline at end of file".
  bool no_newline = false;
};

struct hunk {
  size_t old_start = 0;
  size_t old_count = 0;
  size_t new_start = 0;
  size_t new_count = 0;
  std::vector<hunk_line> lines;
};

/// The change a unified diff makes to one file.
struct file_patch {
  enum class action { add, modify, remove };
  action kind = action::modify;
  /// Path relative to the diff root, with any a/ or b/ prefix removed.
  std::string path;
  std::vector<hunk> hunks;
};

/// Parses unified diff text (plain or git-style, several files). Renames,
/// copies and binary patches are refused; so is a hunk whose line counts do
/// not match its header.
result<std::vector<file_patch>> parse_unified_diff(std::string_view text);

/// Applies one file's hunks to its current content (empty for an added
/// file). Each hunk must match exactly, at its stated line or, failing that,
/// the nearest line where its context and removals match. The error names
/// the file and the 1-based hunk that does not apply.
result<std::string> apply_file_patch(const file_patch& patch,
                                     std::string_view current);

} // namespace pyro
