#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "messages/error.hpp"

namespace pyro {

/// How many commands a workspace has run and when it was last used.
struct activity {
  int64_t command_count = 0;
  double last_activity_at = 0;
};

/// Keeps `activity` apart from the workspace record so that an exec changes
/// a few bytes of one file in place instead of replacing the record: on
/// ext4 a rename over a file forces a writeback of the new one. Written only
/// under the workspace lock, read by anyone without it: the file holds the
/// value twice and a read that sees two different copies (a write in
/// progress) is retried. Not synced: the exec journal is the durable truth
/// and the next exec numbers after it (journal::append_next).
class activity_file {
public:
  explicit activity_file(std::filesystem::path path);

  [[nodiscard]] std::optional<activity> read() const;

  status write(const activity& now) const;

private:
  std::filesystem::path path_;
};

} // namespace pyro
