#include "actors/journal.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"
#include "messages/sys/atomic_file.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

json to_json(const journal_entry& e) {
  return json{{"sequence", e.sequence},
              {"command", e.command},
              {"cwd", e.cwd},
              {"exit_code", e.exit_code},
              {"signal", e.signal},
              {"timed_out", e.timed_out},
              {"duration_ms", e.duration_ms},
              {"started_at", e.started_at},
              {"stdout", e.stdout_text},
              {"stderr", e.stderr_text},
              {"truncated", e.truncated}};
}

result<journal_entry> journal_entry_from_json(const json& j) {
  try {
    journal_entry e;
    e.sequence = j.at("sequence").get<int64_t>();
    e.command = j.at("command").get<std::string>();
    e.cwd = j.value("cwd", "");
    e.exit_code = j.value("exit_code", -1);
    e.signal = j.value("signal", 0);
    e.timed_out = j.value("timed_out", false);
    e.duration_ms = j.value("duration_ms", int64_t{0});
    e.started_at = j.value("started_at", 0.0);
    e.stdout_text = j.value("stdout", "");
    e.stderr_text = j.value("stderr", "");
    e.truncated = j.value("truncated", false);
    return e;
  } catch (const json::exception& ex) {
    return make_error(error_code::internal,
                      std::string{"malformed journal entry: "} + ex.what());
  }
}

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
