#include "vmm/guest/disk_reader.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/guest/shell.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// debugfs reads its requests from a file; a quote or line break in a path
// would end the argument early, so such paths are refused, not escaped.
result<std::string> debugfs_word(const std::string& path) {
  if (path.empty() || path.front() != '/')
    return make_error(error_code::invalid_argument,
                      "disk path '" + path + "' must be absolute");
  if (path.find_first_of("\"\n\r\\") != std::string::npos)
    return make_error(error_code::invalid_argument,
                      "disk path '" + path
                        + "' holds a quote, backslash or line break");
  return "\"" + path + "\"";
}

class scratch_dir {
public:
  scratch_dir() {
    char tmpl[] = "/tmp/pyro-disk-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr)
      dir_ = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    if (!dir_.empty())
      fs::remove_all(dir_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const fs::path& path() const {
    return dir_;
  }

private:
  fs::path dir_;
};

// Runs debugfs requests against `image`, returning what it printed.
result<std::string> debugfs(const fs::path& image, const std::string& requests,
                            bool writable = false) {
  scratch_dir scratch;
  if (scratch.path().empty())
    return make_error(error_code::internal, "cannot create a scratch dir");
  auto in = scratch.path() / "requests";
  auto out = scratch.path() / "out";
  if (auto w = sys::write_file_atomic(in, requests); !w)
    return w.err();
  auto ran = run_shell(std::string{"debugfs "} + (writable ? "-w " : "") + "-f "
                         + shell_quote(in) + " " + shell_quote(image) + " > "
                         + shell_quote(out),
                       2min);
  if (!ran)
    return ran.err();
  auto text = sys::read_file(out);
  if (!text)
    return text.err();
  return *text;
}

std::string type_of(unsigned mode) {
  switch (mode & 0170000) {
  case 0100000:
    return "file";
  case 0040000:
    return "directory";
  case 0120000:
    return "symlink";
  default:
    return "other";
  }
}

// `ls -p` rows: /inode/mode/uid/gid/name/size/ (mode in octal).
std::vector<disk_entry> parse_listing(const std::string& text,
                                      const std::string& dir) {
  std::vector<disk_entry> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 2 || line.front() != '/')
      continue;
    std::vector<std::string> fields;
    std::string field;
    std::istringstream row{line.substr(1)};
    while (std::getline(row, field, '/'))
      fields.push_back(field);
    if (fields.size() < 6 || fields[4] == "." || fields[4] == ".."
        || fields[0] == "0")
      continue;
    disk_entry e;
    e.mode = static_cast<unsigned>(std::stoul(fields[1], nullptr, 8));
    e.type = type_of(e.mode);
    e.size = fields[5].empty() ? 0 : std::stoull(fields[5]);
    e.path = (dir == "/" ? "" : dir) + "/" + fields[4];
    out.push_back(std::move(e));
  }
  return out;
}

result<std::vector<disk_entry>> list_dir(const fs::path& image,
                                         const std::string& dir) {
  auto word = debugfs_word(dir);
  if (!word)
    return word.err();
  auto text = debugfs(image, "ls -p " + *word + "\n");
  if (!text)
    return text.err();
  return parse_listing(*text, dir);
}

// The entry `path` names, from its parent's listing.
result<disk_entry> find_entry(const fs::path& image, const std::string& path) {
  if (path == "/")
    return disk_entry{"/", "directory", 0, 040755};
  auto parent = fs::path{path}.parent_path().string();
  auto entries = list_dir(image, parent.empty() ? "/" : parent);
  if (!entries)
    return entries.err();
  for (auto& e : *entries)
    if (e.path == path)
      return e;
  return make_error(error_code::not_found,
                    "'" + path + "' does not exist on the workspace disk");
}

std::string normalised(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return path;
}

} // namespace

result<std::vector<disk_entry>>
list_disk(const fs::path& image, const std::string& raw_path, bool recursive) {
  auto path = normalised(raw_path);
  auto self = find_entry(image, path);
  if (!self)
    return self.err();
  if (self->type != "directory")
    return std::vector<disk_entry>{*self};
  std::vector<disk_entry> out;
  std::vector<std::string> pending{path};
  while (!pending.empty()) {
    auto dir = pending.back();
    pending.pop_back();
    auto entries = list_dir(image, dir);
    if (!entries)
      return entries.err();
    for (auto& e : *entries) {
      if (recursive && e.type == "directory")
        pending.push_back(e.path);
      out.push_back(std::move(e));
    }
  }
  return out;
}

result<disk_file> read_disk_file(const fs::path& image,
                                 const std::string& raw_path,
                                 uint64_t max_bytes) {
  auto path = normalised(raw_path);
  auto entry = find_entry(image, path);
  if (!entry)
    return entry.err();
  if (entry->type != "file")
    return make_error(error_code::invalid_argument, "'" + path + "' is a "
                                                      + entry->type
                                                      + ", not a regular file");
  scratch_dir scratch;
  auto word = debugfs_word(path);
  if (!word)
    return word.err();
  auto out = scratch.path() / "file";
  auto dumped = debugfs(image, "dump " + *word + " \"" + out.string() + "\"\n");
  if (!dumped)
    return dumped.err();
  std::ifstream in{out, std::ios::binary};
  disk_file file;
  file.path = path;
  file.size = entry->size;
  file.content.resize(static_cast<size_t>(std::min(max_bytes, entry->size)));
  in.read(file.content.data(),
          static_cast<std::streamsize>(file.content.size()));
  file.content.resize(static_cast<size_t>(in.gcount()));
  file.truncated = entry->size > file.content.size();
  return file;
}

status scrub_runtime_paths(const fs::path& image) {
  auto run = list_disk(image, "/run", true);
  if (!run)
    return run.err().code == error_code::not_found ? status{} : run.err();
  std::string requests;
  // Deepest first, so each directory is empty by the time it goes.
  std::vector<disk_entry> doomed;
  for (const auto& e : *run)
    if (e.path.rfind("/run/pyro-", 0) == 0)
      doomed.push_back(e);
  std::sort(doomed.begin(), doomed.end(), [](const auto& a, const auto& b) {
    return a.path.size() > b.path.size();
  });
  for (const auto& e : doomed) {
    auto word = debugfs_word(e.path);
    if (!word)
      return word.err();
    requests += (e.type == "directory" ? "rmdir " : "rm ") + *word + "\n";
  }
  if (requests.empty())
    return {};
  auto done = debugfs(image, requests, true);
  if (!done)
    return done.err();
  return {};
}

} // namespace pyro::vmm
