#include "random_tree.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pyro::test {

namespace {

std::string pick(std::mt19937_64& rng, const std::vector<std::string>& from) {
  return from[rng() % from.size()];
}

uint32_t pick(std::mt19937_64& rng, const std::vector<uint32_t>& from) {
  return from[rng() % from.size()];
}

// Names that have broken archives before: non-ASCII, not UTF-8 at all,
// spaces, a newline, quotes, leading dash and dot, the longest allowed.
std::string random_name(std::mt19937_64& rng, int n) {
  auto tag = std::to_string(n);
  switch (rng() % 10) {
  case 0: return "h\xc3\xa9llo-" + tag;          // UTF-8
  case 1: return "caf\xe9-" + tag;               // Latin-1
  case 2: return "\xff\xfe-bad-utf8-" + tag;     // invalid UTF-8
  case 3: return "with space " + tag;
  case 4: return "line\nbreak-" + tag;
  case 5: return "q'\"\\$`*?-" + tag;
  case 6: return "-dash-" + tag;
  case 7: return ".hidden-" + tag;
  case 8: return std::string(255 - tag.size(), 'L') + tag;
  default: return "plain-" + tag;
  }
}

std::string random_bytes(std::mt19937_64& rng, size_t max) {
  std::string out(rng() % (max + 1), '\0');
  for (auto& c : out)
    c = static_cast<char>(1 + rng() % 255); // NUL: busybox printf stops
  return out;
}

int64_t random_time(std::mt19937_64& rng) {
  return 1000000000 + static_cast<int64_t>(rng() % 700000000);
}

// A printf format that prints exactly these bytes.
std::string format_of(const std::string& bytes) {
  std::string format;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      format += static_cast<char>(c);
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\%03o", c);
      format += esc;
    }
  }
  return format;
}

// Sets shell variable `var` to exactly these bytes; $(...) drops trailing
// newlines, so a marker is added and taken off again.
std::string assign(const std::string& var, const std::string& bytes) {
  return var + "=$(printf '" + format_of(bytes) + "'; echo x); " + var + "=${"
         + var + "%x}\n";
}

std::string octal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%o", mode);
  return buf;
}

} // namespace

random_tree random_tree::generate(std::mt19937_64& rng, int count) {
  random_tree tree;
  std::vector<std::string> dirs{""};
  std::vector<std::string> files;
  std::set<std::string> used;
  for (int n = 0; n < count; ++n) {
    auto parent = dirs[rng() % dirs.size()];
    auto name = random_name(rng, n);
    auto path = parent.empty() ? name : parent + "/" + name;
    if (!used.insert(path).second)
      continue;
    tree_entry e;
    e.path = path;
    e.mtime = random_time(rng);
    auto roll = rng() % 100;
    if (roll < 18) {
      e.type = 'd';
      e.mode = pick(rng, std::vector<uint32_t>{0755, 0700, 0750, 0555});
      dirs.push_back(path);
    } else if (roll < 50 || (roll < 62 && files.empty())) {
      e.type = 'f';
      e.mode = pick(rng, std::vector<uint32_t>{0644, 0600, 0755, 0444, 04755,
                                               0640});
      e.content = random_bytes(rng, 200);
      files.push_back(path);
    } else if (roll < 62) {
      e.type = 'h';
      e.target = files[rng() % files.size()];
      e.mtime = 0; // the target's
    } else if (roll < 80) {
      e.type = 'l';
      e.mode = 0777;
      e.target = pick(rng, std::vector<std::string>{
                             "/usr/lib/python3/dist-packages", "/",
                             "../../../../etc/passwd", "dangling-target",
                             "t\xff\xe9rget with space", std::string(900, 'T'),
                             "./relative/../sibling"});
    } else if (roll < 90) {
      e.type = 'p';
      e.mode = pick(rng, std::vector<uint32_t>{0644, 0600});
    } else {
      e.type = 's';
      e.mode = pick(rng, std::vector<uint32_t>{0755, 0700});
      if (name.size() > 100) { // a socket's name must fit sun_path
        e.path = (parent.empty() ? "" : parent + "/") + "sock-" + std::to_string(n);
        used.insert(e.path);
      }
    }
    tree.entries.push_back(std::move(e));
  }
  // A path longer than PATH_MAX: 18 directories of 230 bytes and a file.
  std::string deep = "deep";
  tree.entries.push_back({deep, 'd', 0755, 0, {}, {}});
  for (int i = 0; i < 18; ++i) {
    deep += "/" + std::string(228, 'D') + (i < 10 ? "0" : "") + std::to_string(i);
    tree.entries.push_back({deep, 'd', 0755, 0, {}, {}});
  }
  tree.entries.push_back(
    {deep + "/leaf", 'f', 0644, random_time(rng), "deep\n", {}});
  return tree;
}

std::string random_tree::script() const {
  std::string s = "set -e\numask 022\n";
  std::vector<const tree_entry*> dirs;
  for (const auto& e : entries) {
    if (e.path.rfind("deep", 0) == 0)
      continue; // made below, relative step by step
    s += assign("p", e.path);
    switch (e.type) {
    case 'd':
      s += "mkdir -- \"$p\"\n";
      dirs.push_back(&e);
      continue;
    case 'f':
      s += "printf '" + format_of(e.content) + "' > \"$p\"\n";
      break;
    case 'l':
      s += assign("t", e.target) + "ln -s -- \"$t\" \"$p\"\n";
      break;
    case 'h':
      s += assign("t", e.target) + "ln -- \"$t\" \"$p\"\n";
      continue;
    case 'p':
      s += "mkfifo -- \"$p\"\n";
      break;
    case 's':
      s += "mksock \"$p\"\n";
      break;
    }
    if (e.type != 'l')
      s += "chmod " + octal(e.mode) + " -- \"$p\"\n";
    s += "touch -h -d @" + std::to_string(e.mtime) + " -- \"$p\"\n";
  }
  // The deep chain: each step is a relative mkdir and cd, so no call ever
  // names more than PATH_MAX bytes.
  s += "(\n";
  for (const auto& e : entries) {
    if (e.path.rfind("deep", 0) != 0)
      continue;
    auto leaf = e.path.substr(e.path.rfind('/') + 1);
    if (e.type == 'd') {
      s += "mkdir -- " + leaf + "\ncd -P -- " + leaf + "\n";
    } else {
      s += "printf '" + format_of(e.content) + "' > " + leaf + "\n";
      s += "touch -d @" + std::to_string(e.mtime) + " " + leaf + "\n";
    }
  }
  s += ")\n";
  // Directory modes and times last, deepest first: making their contents
  // would change the times, and a 0555 directory takes nothing new.
  std::stable_sort(dirs.begin(), dirs.end(), [](auto* a, auto* b) {
    return std::count(a->path.begin(), a->path.end(), '/')
           > std::count(b->path.begin(), b->path.end(), '/');
  });
  for (const auto* d : dirs) {
    s += assign("p", d->path);
    s += "touch -d @" + std::to_string(d->mtime) + " -- \"$p\"\n";
    s += "chmod " + octal(d->mode) + " -- \"$p\"\n";
  }
  return s;
}

namespace {

void walk_into(int dir, const std::string& base,
               std::map<std::string, host_entry>& out) {
  int copy = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = ::fdopendir(copy);
  if (d == nullptr)
    return;
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    auto path = base.empty() ? name : base + "/" + name;
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    host_entry e;
    e.perm = st.st_mode & 07777;
    e.mtime = st.st_mtime;
    e.inode = st.st_ino;
    if (S_ISREG(st.st_mode)) {
      e.type = 'f';
      int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      char buf[4096];
      for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;)
        e.content.append(buf, static_cast<size_t>(n));
      ::close(fd);
    } else if (S_ISDIR(st.st_mode)) {
      e.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      e.type = 'l';
      char buf[4096];
      auto n = ::readlinkat(dir, name.c_str(), buf, sizeof buf);
      e.target.assign(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
    } else if (S_ISFIFO(st.st_mode)) {
      e.type = 'p';
    } else if (S_ISSOCK(st.st_mode)) {
      e.type = 's';
    }
    out[path] = e;
    if (e.type == 'd') {
      int sub = ::openat(dir, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        walk_into(sub, path, out);
        ::close(sub);
      }
    }
  }
}

} // namespace

std::map<std::string, host_entry> walk_host(const std::string& root) {
  std::map<std::string, host_entry> out;
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    walk_into(fd, "", out);
    ::close(fd);
  }
  return out;
}

std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    }
  }
  return out.size() > 160 ? out.substr(0, 80) + "..." + out.substr(out.size() - 60)
                          : out;
}

std::vector<std::string>
compare_export(const random_tree& tree,
               const std::map<std::string, host_entry>& found) {
  std::vector<std::string> problems;
  std::set<std::string> expected;
  auto note = [&](const std::string& path, const std::string& what) {
    problems.push_back(printable(path) + ": " + what);
  };
  for (const auto& e : tree.entries) {
    expected.insert(e.path);
    auto i = found.find(e.path);
    if (i == found.end()) {
      note(e.path, "missing");
      continue;
    }
    const auto& h = i->second;
    if (e.type == 'h') {
      auto t = found.find(e.target);
      if (h.type != 'f' || t == found.end() || t->second.inode != h.inode)
        note(e.path, "is not a hard link to " + printable(e.target));
      continue;
    }
    if (h.type != e.type) {
      note(e.path, std::string{"type "} + h.type + ", wanted " + e.type);
      continue;
    }
    if (e.type != 'l' && h.perm != (e.mode & 0755))
      note(e.path, "mode " + octal(h.perm) + ", wanted " + octal(e.mode & 0755));
    if (e.mtime != 0 && h.mtime != e.mtime)
      note(e.path, "mtime " + std::to_string(h.mtime) + ", wanted "
                     + std::to_string(e.mtime));
    if (e.type == 'f' && h.content != e.content)
      note(e.path, "content differs");
    if (e.type == 'l' && h.target != e.target)
      note(e.path, "target " + printable(h.target) + ", wanted "
                     + printable(e.target));
  }
  for (const auto& [path, h] : found)
    if (expected.count(path) == 0)
      note(path, "not in the tree");
  return problems;
}

} // namespace pyro::test
