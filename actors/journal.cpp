#include "actors/journal.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

journal::journal(fs::path dir) : dir_(std::move(dir)) {
  // nop
}

status journal::append(const journal_entry& entry) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot create " + dir_.string() + ": " + ec.message());
  // Zero-padded so a directory listing sorts like the sequence.
  char name[32];
  std::snprintf(name, sizeof(name), "%012lld.json",
                static_cast<long long>(entry.sequence));
  return sys::write_file_atomic(dir_ / name, dump_json(to_json(entry)), 0600);
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
