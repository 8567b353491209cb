#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "messages/error.hpp"

namespace pyro::sys {

/// Replaces `path` with `contents` so that a reader, or a process that
/// survives a crash of the writer at any instant, sees either the old file or
/// the new one and never a mix: write a temp file beside it, fsync it, rename
/// it over the target, fsync the directory.
status write_file_atomic(const std::filesystem::path& path,
                         std::string_view contents, unsigned mode = 0644);

/// Like write_file_atomic, for a file that must not exist yet:
/// `already_exists` (and nothing written) if it does.
status write_file_exclusive(const std::filesystem::path& path,
                            std::string_view contents, unsigned mode = 0644);

/// The same without the fsyncs: still all-or-nothing for readers and for a
/// killed writer, but a power loss may leave the old file, no file or an
/// empty one. For state that is transient and cleaned up when unreadable.
status write_file_atomic_unsynced(const std::filesystem::path& path,
                                  std::string_view contents,
                                  unsigned mode = 0644);

/// Removes temp files that `write_file_atomic` left beside `path` when its
/// writer was killed half-way (their pid no longer runs).
void remove_stale_temp_files(const std::filesystem::path& path);

/// Reads a whole file; `not_found` if it is missing.
result<std::string> read_file(const std::filesystem::path& path);

/// fsyncs a file written some other way than the above.
status sync_file(const std::filesystem::path& path);

/// fsyncs a directory so that a rename or unlink inside it is durable.
status sync_directory(const std::filesystem::path& dir);

} // namespace pyro::sys
