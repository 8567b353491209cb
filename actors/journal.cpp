#include "actors/journal.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

journal::journal(fs::path dir) : dir_(std::move(dir)) {
  // nop
}

result<int64_t> journal::append_next(journal_entry entry, int64_t last) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot create " + dir_.string() + ": " + ec.message());
  for (int attempt = 0; attempt < 3; ++attempt) {
    entry.sequence = last + 1;
    // Zero-padded so a directory listing sorts like the sequence.
    char name[32];
    std::snprintf(name, sizeof(name), "%012lld.json",
                  static_cast<long long>(entry.sequence));
    auto written
      = sys::write_file_exclusive(dir_ / name, dump_json(to_json(entry)), 0600);
    if (written)
      return entry.sequence;
    if (written.err().code != error_code::already_exists)
      return written.err();
    last = std::max(last + 1, last_sequence());
  }
  return make_error(error_code::internal,
                    "cannot number a journal entry in " + dir_.string());
}

int64_t journal::last_sequence() const {
  int64_t last = 0;
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator(dir_, ec))
    if (dirent.path().extension() == ".json")
      last = std::max<int64_t>(
        last, std::strtoll(dirent.path().stem().c_str(), nullptr, 10));
  return last;
}

std::vector<journal_entry>
journal::read_all(std::vector<std::string>* problems) const {
  std::vector<journal_entry> out;
  std::error_code ec;
  for (const auto& dirent : fs::directory_iterator(dir_, ec)) {
    if (dirent.path().extension() != ".json")
      continue;
    auto text = sys::read_file(dirent.path());
    auto parsed = text ? json::parse(*text, nullptr, false) : json{};
    auto entry = journal_entry_from_json(parsed);
    if (entry)
      out.push_back(std::move(*entry));
    else if (problems != nullptr)
      problems->push_back(dirent.path().filename().string() + ": "
                          + entry.err().message);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.sequence < b.sequence;
  });
  return out;
}

status journal::clear() const {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot clear " + dir_.string() + ": " + ec.message());
  return {};
}

} // namespace pyro
