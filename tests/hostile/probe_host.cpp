// host_paths and agent_socket: what the sandbox's mounts give away about
// the host, and whether the directory the host connects through is
// writable from inside.

#include "probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <set>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace pyro::hostile {

namespace {

struct mount_entry {
  std::string root;        // path inside the mounted file system
  std::string mount_point; // where it is mounted
  std::string line;
};

// mountinfo writes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::string escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<mount_entry> mounts(const std::string& text) {
  std::vector<mount_entry> out;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields{line};
    std::string id, parent, devno, root, mount_point;
    if (fields >> id >> parent >> devno >> root >> mount_point)
      out.push_back({unescape(root), unescape(mount_point), line});
  }
  return out;
}

// A path appears when it is followed by the end of a field or of a
// component, so /tmp/a does not match /tmp/ab.
bool mentions(const std::string& text, const std::string& needle) {
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    size_t end = at + needle.size();
    if (end == text.size()
        || std::string{"/ \n,:="}.find(text[end]) != std::string::npos)
      return true;
  }
  return false;
}

// Creating a file proves the directory writable; it is removed at once.
int create_in(const std::string& dir) {
  auto path = dir + "/.pyro-hostile-probe-" + std::to_string(::getpid());
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  ::close(fd);
  ::unlink(path.c_str());
  return 0;
}

const mount_entry* mount_of(const std::vector<mount_entry>& all,
                            const std::string& path) {
  const mount_entry* best = nullptr;
  for (const auto& m : all) {
    const auto& mp = m.mount_point;
    bool under = path == mp || mp == "/"
                 || (path.compare(0, mp.size(), mp) == 0
                     && path.size() > mp.size() && path[mp.size()] == '/');
    // Later entries stack on earlier ones at the same point.
    if (under && (!best || mp.size() >= best->mount_point.size()))
      best = &m;
  }
  return best;
}

void find_sockets(const std::string& dir, int depth,
                  std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d)
    return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    auto path = (dir == "/" ? "" : dir) + "/" + name;
    if (path == "/proc" || path == "/sys" || path == "/dev")
      continue;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0)
      continue;
    if (S_ISSOCK(st.st_mode))
      out.push_back(path);
    else if (S_ISDIR(st.st_mode) && depth > 0)
      find_sockets(path, depth - 1, out);
  }
  ::closedir(d);
}

call_result connect_to(const std::string& name, bool abstract) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return returned(-1);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::min(name.size(), sizeof addr.sun_path - 1);
  std::copy(name.begin(), name.begin() + len,
            addr.sun_path + (abstract ? 1 : 0));
  auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len
                                     + (abstract ? 1 : 0));
  auto r = returned(::connect(fd, reinterpret_cast<sockaddr*>(&addr), size));
  ::close(fd);
  return r;
}

} // namespace

void probe_host_paths(const std::vector<std::string>& host_paths) {
  std::string text;
  if (int err = read_file("/proc/self/mountinfo", text))
    return report("host_paths", "read mountinfo", true, errno_name(err));
  for (const auto& path : host_paths) {
    bool seen = mentions(text, escape(path));
    report("host_paths", path, !seen,
           seen ? "named in /proc/self/mountinfo" : "absent from mountinfo");
  }
  struct stat st;
  bool exists = ::lstat("/run/pyro-host", &st) == 0;
  report("host_paths", "/run/pyro-host", !exists,
         exists ? "exists" : errno_name(errno));
}

void probe_agent_socket() {
  constexpr const char* category = "agent_socket";
  std::string text;
  (void)read_file("/proc/self/mountinfo", text);
  auto all = mounts(text);

  const std::string host_dir = "/run/pyro-host";
  int err = create_in(host_dir);
  report(category, "/run/pyro-host missing or not writable", err != 0,
         err == 0 ? "created a file in it" : errno_name(err));

  // The host connects to agent.sock through a directory bind-mounted from
  // its side; whoever can write there can put a socket of its own in the
  // host's path. A bind mount shows a root other than "/".
  std::set<std::string> socket_dirs;
  for (const auto& m : all) {
    struct stat st;
    bool has_agent_sock
      = ::lstat((m.mount_point + "/agent.sock").c_str(), &st) == 0;
    bool looks_like_sock_dir
      = m.root.size() >= 5
        && m.root.compare(m.root.size() - 5, 5, "/sock") == 0;
    if (m.root != "/" && (has_agent_sock || looks_like_sock_dir))
      socket_dirs.insert(m.mount_point);
  }
  std::string writable, checked;
  for (const auto& dir : socket_dirs) {
    checked += (checked.empty() ? "" : ", ") + dir;
    if (create_in(dir) == 0)
      writable += (writable.empty() ? "" : ", ") + dir;
  }
  report(category, "no writable directory contains the host-side agent.sock",
         writable.empty(),
         !writable.empty() ? "writable: " + writable
         : checked.empty() ? "no bind-mounted socket directory"
                           : "not writable: " + checked);

  // Sockets bind-mounted in from the host, other than the agent's own
  // (above): connecting to one reaches a host service.
  std::vector<std::string> sockets;
  for (const char* dir : {"/run", "/tmp"})
    find_sockets(dir, 4, sockets);
  find_sockets("/", 2, sockets);
  std::set<std::string> seen;
  int host_sockets = 0;
  for (const auto& path : sockets) {
    const auto* m = mount_of(all, path);
    bool agent_sock = path.size() >= 11
                      && path.compare(path.size() - 11, 11, "/agent.sock") == 0;
    if (!m || m->root == "/" || agent_sock || !seen.insert(path).second)
      continue;
    ++host_sockets;
    report_call(category, "connect " + path, connect_to(path, false),
                "connected");
  }
  if (host_sockets == 0)
    report(category, "no host socket bind-mounted", true,
           std::to_string(sockets.size())
             + " sockets found, none on a bind mount");

  // Abstract sockets live in the network namespace: any listed here that
  // accepts a connection is shared with whatever created it.
  std::string unix_table;
  (void)read_file("/proc/net/unix", unix_table);
  std::istringstream rows{unix_table};
  int abstract = 0;
  for (std::string row; std::getline(rows, row);) {
    auto at = row.find(" @");
    if (at == std::string::npos)
      continue;
    auto name = row.substr(at + 2);
    if (!seen.insert("@" + name).second)
      continue;
    ++abstract;
    report_call(category, "connect @" + name, connect_to(name, true),
                "connected");
  }
  if (abstract == 0)
    report(category, "no abstract socket listed", true,
           "/proc/net/unix lists none");
}

} // namespace pyro::hostile
