#include "actors/patch/unified_diff.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace pyro {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

error parse_error(size_t line_no, const std::string& what) {
  return make_error(error_code::invalid_argument,
                    "patch line " + std::to_string(line_no) + ": " + what,
                    "give a unified diff such as `git diff` or `diff -u` "
                    "prints");
}

// "--- a/src/x.c\t2026-01-01 ..." -> "a/src/x.c"; "/dev/null" stays.
std::string header_path(std::string_view rest) {
  auto tab = rest.find('\t');
  if (tab != std::string_view::npos)
    rest = rest.substr(0, tab);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r'))
    rest.remove_suffix(1);
  return std::string{rest};
}

std::string strip_prefix(const std::string& path) {
  if (starts_with(path, "a/") || starts_with(path, "b/"))
    return path.substr(2);
  return path;
}

// "@@ -12,5 +12,6 @@ ..." ; a missing count means 1.
bool parse_range(std::string_view text, size_t& start, size_t& count) {
  char* end = nullptr;
  std::string s{text};
  start = std::strtoul(s.c_str(), &end, 10);
  if (end == s.c_str())
    return false;
  count = 1;
  if (*end == ',') {
    const char* digits = end + 1;
    count = std::strtoul(digits, &end, 10);
    if (end == digits)
      return false;
  }
  return *end == '\0';
}

std::optional<hunk> parse_hunk_header(std::string_view line) {
  // @@ -a,b +c,d @@
  if (!starts_with(line, "@@ -"))
    return std::nullopt;
  auto plus = line.find(" +", 4);
  auto close = line.find(" @@", 4);
  if (plus == std::string_view::npos || close == std::string_view::npos
      || close < plus)
    return std::nullopt;
  hunk h;
  if (!parse_range(line.substr(4, plus - 4), h.old_start, h.old_count)
      || !parse_range(line.substr(plus + 2, close - plus - 2), h.new_start,
                      h.new_count))
    return std::nullopt;
  return h;
}

} // namespace

result<std::vector<file_patch>> parse_unified_diff(std::string_view text) {
  auto lines = split_lines(text);
  std::vector<file_patch> out;
  size_t i = 0;
  while (i < lines.size()) {
    auto line = lines[i];
    if (starts_with(line, "rename from") || starts_with(line, "copy from"))
      return parse_error(i + 1, "renames and copies are not supported; "
                                "express them as a delete and an add");
    if (starts_with(line, "GIT binary patch")
        || starts_with(line, "Binary files"))
      return parse_error(i + 1, "binary patches are not supported");
    if (!starts_with(line, "--- ")) {
      ++i; // diff --git, index, mode lines and commentary
      continue;
    }
    if (i + 1 >= lines.size() || !starts_with(lines[i + 1], "+++ "))
      return parse_error(i + 2, "expected '+++ ' after '--- '");
    auto old_path = header_path(line.substr(4));
    auto new_path = header_path(lines[i + 1].substr(4));
    file_patch fp;
    if (old_path == "/dev/null" && new_path == "/dev/null")
      return parse_error(i + 1, "both sides are /dev/null");
    if (old_path == "/dev/null") {
      fp.kind = file_patch::action::add;
      fp.path = strip_prefix(new_path);
    } else if (new_path == "/dev/null") {
      fp.kind = file_patch::action::remove;
      fp.path = strip_prefix(old_path);
    } else {
      fp.path = strip_prefix(new_path);
      if (strip_prefix(old_path) != fp.path)
        return parse_error(i + 1, "old and new paths differ ('" + old_path
                                    + "' vs '" + new_path
                                    + "'); renames are not supported");
    }
    if (fp.path.empty())
      return parse_error(i + 1, "empty file path");
    i += 2;
    while (i < lines.size() && starts_with(lines[i], "@@")) {
      auto h = parse_hunk_header(lines[i]);
      if (!h)
        return parse_error(i + 1, "malformed hunk header '"
                                    + std::string{lines[i]} + "'");
      ++i;
      size_t old_seen = 0;
      size_t new_seen = 0;
      while (i < lines.size()
             && (old_seen < h->old_count || new_seen < h->new_count)) {
        auto body = lines[i];
        if (!body.empty() && body.back() == '\r')
          body.remove_suffix(1);
        char kind = body.empty() ? ' ' : body.front();
        if (kind == '\\') {
          if (!h->lines.empty())
            h->lines.back().no_newline = true;
          ++i;
          continue;
        }
        if (kind != ' ' && kind != '-' && kind != '+')
          return parse_error(i + 1, "unexpected line in hunk: '"
                                      + std::string{body} + "'");
        h->lines.push_back(
          {kind, std::string{body.empty() ? body : body.substr(1)}, false});
        if (kind != '+')
          ++old_seen;
        if (kind != '-')
          ++new_seen;
        ++i;
      }
      if (old_seen != h->old_count || new_seen != h->new_count)
        return parse_error(i, "hunk for '" + fp.path
                                + "' is shorter than its header says");
      if (i < lines.size() && starts_with(lines[i], "\\")) {
        if (!h->lines.empty())
          h->lines.back().no_newline = true;
        ++i;
      }
      fp.hunks.push_back(std::move(*h));
    }
    if (fp.hunks.empty() && fp.kind == file_patch::action::modify)
      return parse_error(i, "no hunks for '" + fp.path + "'");
    out.push_back(std::move(fp));
  }
  if (out.empty())
    return make_error(error_code::invalid_argument,
                      "the patch contains no file changes",
                      "give a unified diff with ---/+++ headers and @@ "
                      "hunks");
  return out;
}

result<std::string> apply_file_patch(const file_patch& patch,
                                     std::string_view current) {
  // Work on lines; remember whether the file ended with a newline.
  std::vector<std::string> lines;
  for (auto l : split_lines(current))
    lines.emplace_back(l);
  bool ends_with_newline = current.empty() || current.back() == '\n';
  long shift = 0;   // lines added minus removed by earlier hunks
  size_t floor = 0; // hunks apply in order, never overlapping
  for (size_t n = 0; n < patch.hunks.size(); ++n) {
    const auto& h = patch.hunks[n];
    std::vector<const hunk_line*> old_side;
    for (const auto& l : h.lines)
      if (l.kind != '+')
        old_side.push_back(&l);
    auto matches_at = [&](size_t at) {
      if (at + old_side.size() > lines.size())
        return false;
      for (size_t k = 0; k < old_side.size(); ++k)
        if (lines[at + k] != old_side[k]->text)
          return false;
      return true;
    };
    // The header's 1-based start; a zero start means "before line 1".
    long stated = static_cast<long>(h.old_start == 0 ? 0 : h.old_start - 1);
    size_t want = static_cast<size_t>(std::max(0L, stated + shift));
    std::optional<size_t> found;
    for (size_t d = 0; !found && d <= lines.size() + 1; ++d) {
      if (want >= d && want - d >= floor && matches_at(want - d))
        found = want - d;
      else if (want + d <= lines.size() && want + d >= floor
               && matches_at(want + d))
        found = want + d;
    }
    if (!found)
      return make_error(error_code::failed_precondition,
                        "hunk " + std::to_string(n + 1) + " of '" + patch.path
                          + "' (@@ -" + std::to_string(h.old_start) + ","
                          + std::to_string(h.old_count)
                          + " @@) does not apply: the file's lines there "
                            "differ",
                        "read the file again and regenerate the patch; "
                        "nothing was changed");
    std::vector<std::string> replacement;
    for (const auto& l : h.lines)
      if (l.kind != '-')
        replacement.push_back(l.text);
    lines.erase(lines.begin() + static_cast<long>(*found),
                lines.begin() + static_cast<long>(*found + old_side.size()));
    lines.insert(lines.begin() + static_cast<long>(*found), replacement.begin(),
                 replacement.end());
    floor = *found + replacement.size();
    shift += static_cast<long>(replacement.size())
             - static_cast<long>(old_side.size());
    // The last line's newline follows the new side of the final hunk that
    // reaches the end of the file.
    if (floor == lines.size()) {
      const hunk_line* last_new = nullptr;
      for (const auto& l : h.lines)
        if (l.kind != '-')
          last_new = &l;
      ends_with_newline = last_new == nullptr || !last_new->no_newline;
    }
  }
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    out += lines[k];
    if (k + 1 < lines.size() || ends_with_newline)
      out += '\n';
  }
  return out;
}

} // namespace pyro
