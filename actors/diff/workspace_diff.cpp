#include "actors/diff/workspace_diff.hpp"

#include <mutex>

#include <git2.h>
#include <nlohmann/json.hpp>

namespace pyro {

namespace {

void init_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

bool same(const manifest_entry& a, const manifest_entry& b) {
  return a.type == b.type && a.mode == b.mode && a.size == b.size
         && a.hash == b.hash && a.link_target == b.link_target;
}

std::string binary_note(const std::string& path, bool added, bool deleted) {
  return "Binary files " + (added ? std::string{"/dev/null"} : "a/" + path)
         + " and " + (deleted ? std::string{"/dev/null"} : "b/" + path)
         + " differ\n";
}

} // namespace

bool looks_binary(const std::string& content) {
  return content.find('\0', 0) < std::min<size_t>(content.size(), 8000);
}

result<std::string> unified_file_diff(const std::string& path,
                                      const std::string& before,
                                      const std::string& after, bool added,
                                      bool deleted) {
  init_libgit2();
  git_diff_options opts;
  git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
  opts.context_lines = 3;
  git_patch* patch = nullptr;
  // libgit2 adds the a/ and b/ prefixes itself.
  int rc = git_patch_from_buffers(
    &patch, added ? nullptr : before.data(), added ? 0 : before.size(),
    path.c_str(), deleted ? nullptr : after.data(), deleted ? 0 : after.size(),
    path.c_str(), &opts);
  if (rc != 0) {
    const git_error* e = git_error_last();
    return make_error(error_code::internal,
                      std::string{"diff of "} + path
                        + " failed: " + (e ? e->message : "libgit2 error"));
  }
  git_buf buf = GIT_BUF_INIT;
  std::string out;
  if (patch != nullptr && git_patch_to_buf(&buf, patch) == 0 && buf.ptr)
    out.assign(buf.ptr, buf.size);
  git_buf_dispose(&buf);
  git_patch_free(patch);
  return out;
}

result<workspace_diff> compare_manifests(const manifest& before,
                                         const manifest& after,
                                         const content_source& old_content,
                                         const content_source& new_content) {
  workspace_diff out;
  auto note = [&](diff_entry e) {
    auto& s = out.summary;
    ++s.total;
    if (e.status == "added")
      ++s.added;
    else if (e.status == "deleted")
      ++s.deleted;
    else if (e.status == "type_changed")
      ++s.type_changed;
    else
      ++s.modified;
    if (e.binary)
      ++s.binary;
    out.entries.push_back(std::move(e));
  };
  // Text of one file's change, appended to the patch; marks binary files.
  auto render = [&](diff_entry& e, bool added, bool deleted) -> status {
    std::string old_text;
    std::string new_text;
    if (!added) {
      auto got = old_content(e.path);
      if (!got)
        return got.err();
      old_text = std::move(*got);
    }
    if (!deleted) {
      auto got = new_content(e.path);
      if (!got)
        return got.err();
      new_text = std::move(*got);
    }
    if (looks_binary(old_text) || looks_binary(new_text)) {
      e.binary = true;
      out.patch += binary_note(e.path, added, deleted);
      return {};
    }
    auto text = unified_file_diff(e.path, old_text, new_text, added, deleted);
    if (!text)
      return text.err();
    out.patch += *text;
    return {};
  };
  auto a = before.begin();
  auto b = after.begin();
  while (a != before.end() || b != after.end()) {
    bool take_old
      = b == after.end() || (a != before.end() && a->first < b->first);
    bool take_new
      = a == before.end() || (b != after.end() && b->first < a->first);
    diff_entry e;
    if (take_old) {
      e = {a->first, "deleted", a->second.type, {}, false, false};
      if (a->second.type == "file")
        if (auto r = render(e, false, true); !r)
          return r.err();
      note(std::move(e));
      ++a;
      continue;
    }
    if (take_new) {
      e = {b->first, "added", {}, b->second.type, false, false};
      if (b->second.type == "file")
        if (auto r = render(e, true, false); !r)
          return r.err();
      note(std::move(e));
      ++b;
      continue;
    }
    const auto& x = a->second;
    const auto& y = b->second;
    if (!same(x, y)) {
      if (x.type != y.type) {
        e = {x.path, "type_changed", x.type, y.type, false, false};
      } else {
        e = {x.path, "modified", x.type, y.type, false, false};
        bool content_same = x.size == y.size && x.hash == y.hash
                            && x.link_target == y.link_target;
        e.mode_only = content_same && x.mode != y.mode;
        if (x.type == "file" && !content_same)
          if (auto r = render(e, false, false); !r)
            return r.err();
      }
      // Directories differ only in mode here; their contents are entries
      // of their own.
      if (!(x.type == "directory" && y.type == "directory" && !e.mode_only))
        note(std::move(e));
    }
    ++a;
    ++b;
  }
  out.changed = !out.entries.empty();
  return out;
}

} // namespace pyro
