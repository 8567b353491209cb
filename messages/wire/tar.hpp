#pragma once

// A small streaming tar (ustar + pax) reader and writer. The agent cannot
// carry libarchive's static dependencies into a busybox-only root, and it
// wants every member in its own hands for confinement checks, so it speaks
// tar itself. Pax extended headers carry long names and link targets; GNU
// long-name headers are read too.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "messages/error.hpp"

namespace pyro::wire {

/// Tar has no socket type: a socket travels as a FIFO whose pax header says
/// `SCHILY.filetype=socket` (star's convention), and reads back as this.
constexpr char socket_type = 's';

struct tar_member {
  std::string name;
  /// '0' file, '5' directory, '2' symlink, '1' hard link, '6' FIFO, and
  /// socket_type for a socket; others are passed through for the caller to
  /// refuse.
  char type = '0';
  uint32_t mode = 0644;
  uint64_t size = 0;
  std::string link;
  int64_t mtime = 0;
};

/// Writes a tar stream into a sink, member by member.
class tar_writer {
public:
  using sink = std::function<status(std::string_view)>;

  explicit tar_writer(sink out);

  status add_directory(const std::string& name, uint32_t mode, int64_t mtime);
  status add_symlink(const std::string& name, const std::string& target,
                     int64_t mtime);
  /// A second name for the file an earlier member `target` wrote.
  status add_hardlink(const std::string& name, const std::string& target,
                      int64_t mtime);
  /// A FIFO ('6') or a socket (socket_type): a name and a mode, no data.
  status add_special(const std::string& name, char type, uint32_t mode,
                     int64_t mtime);

  /// Starts a file of exactly `size` bytes; then `write` them all.
  status begin_file(const std::string& name, uint32_t mode, uint64_t size,
                    int64_t mtime);
  status write(std::string_view bytes);

  /// Pads the last file and writes the end-of-archive blocks.
  status finish();

  [[nodiscard]] uint64_t bytes_written() const {
    return written_;
  }

private:
  status header(const tar_member& m);
  status emit(std::string_view bytes);
  status pad_file();

  sink out_;
  uint64_t file_left_ = 0;
  uint64_t file_size_ = 0;
  uint64_t written_ = 0;
};

/// Reads a tar stream from a source.
class tar_reader {
public:
  /// Fills up to `size` bytes; returns how many, 0 at the end.
  using source = std::function<result<size_t>(char* buf, size_t size)>;

  explicit tar_reader(source in);

  /// The next member, or nullopt at the end of the archive.
  result<std::optional<tar_member>> next();

  /// Reads the current member's data; 0 when it is all read.
  result<size_t> read(char* buf, size_t size);

private:
  status read_exact(char* buf, size_t size);
  status skip(uint64_t size);

  source in_;
  uint64_t data_left_ = 0;
  uint64_t pad_left_ = 0;
  bool done_ = false;
};

/// A file descriptor as a tar_reader source, retrying interrupted reads;
/// errors name `what`.
tar_reader::source fd_source(int fd, std::string what);

} // namespace pyro::wire
