#include "frontends/mcp/host_roots.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <sys/stat.h>

namespace pyro::mcp {

namespace {

std::string real_path(const std::string& path, int& err) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    err = errno;
    return {};
  }
  err = 0;
  return buf;
}

bool inside(const std::string& path, const std::string& root, bool strictly) {
  if (path == root)
    return !strictly;
  if (root == "/")
    return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0
         && path[root.size()] == '/';
}

std::string join(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs)
    out += (out.empty() ? "" : ", ") + d;
  return out;
}

error refuse(std::string_view name, std::string_view path, std::string why,
             const host_roots& roots) {
  auto allowed = roots.dirs.empty()
                   ? "this server may use no host path (" + roots.source + ")"
                   : "the host roots this server may use are "
                       + join(roots.dirs) + " (" + roots.source + ")";
  return make_error(error_code::invalid_argument,
                    std::string{name} + " '" + std::string{path} + "' " + why
                      + "; " + allowed,
                    "use a path inside those roots; only the operator can "
                    "widen them, with `pyro mcp serve --host-root DIR` when "
                    "starting the server");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

result<std::string> resolve_root(const std::string& dir) {
  int err = 0;
  auto resolved = real_path(dir, err);
  struct stat st {};
  if (resolved.empty() || ::stat(resolved.c_str(), &st) != 0
      || !S_ISDIR(st.st_mode))
    return make_error(
      error_code::invalid_argument,
      "host root '" + dir + "' is not a directory"
        + (err != 0 ? std::string{": "} + std::strerror(err) : std::string{}),
      "give an existing directory to --host-root");
  return resolved;
}

std::string file_uri_path(std::string_view uri) {
  constexpr std::string_view scheme = "file://";
  if (uri.substr(0, scheme.size()) != scheme)
    return {};
  auto rest = uri.substr(scheme.size());
  // An authority, when present, must be this host.
  if (rest.substr(0, 9) == "localhost")
    rest.remove_prefix(9);
  if (rest.empty() || rest.front() != '/'
      || rest.find_first_of("?#") != std::string_view::npos)
    return {};
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      path += rest[i];
      continue;
    }
    int hi = i + 2 < rest.size() ? hex_value(rest[i + 1]) : -1;
    int lo = i + 2 < rest.size() ? hex_value(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
      return {};
    path += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return path;
}

result<std::string> confine_host_path(std::string_view name,
                                      std::string_view path,
                                      contract::host_access access,
                                      const host_roots& roots) {
  if (path.empty() || path.front() != '/')
    return refuse(name, path, "is not an absolute path", roots);
  if (path.find('\0') != std::string_view::npos)
    return refuse(name, path, "holds a NUL byte", roots);
  std::vector<std::string> parts;
  for (size_t start = 1; start <= path.size();) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos)
      end = path.size();
    auto part = path.substr(start, end - start);
    if (part == "..")
      return refuse(name, path, "contains '..'", roots);
    if (!part.empty() && part != ".")
      parts.emplace_back(part);
    start = end + 1;
  }
  // Component by component: what exists is resolved as the kernel would
  // (realpath at each symlink), what does not is appended as given.
  std::string resolved = "/";
  size_t i = 0;
  for (; i < parts.size(); ++i) {
    auto next = (resolved == "/" ? "" : resolved) + "/" + parts[i];
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) {
      if (errno != ENOENT)
        return refuse(
          name, path,
          std::string{"cannot be resolved: "} + std::strerror(errno), roots);
      break;
    }
    if (S_ISLNK(st.st_mode)) {
      int err = 0;
      next = real_path(next, err);
      // A dangling link would be followed by whatever creates the file.
      if (next.empty())
        return refuse(name, path,
                      "leads through a symlink that cannot be resolved ("
                        + std::string{std::strerror(err)} + ")",
                      roots);
    }
    resolved = std::move(next);
  }
  for (; i < parts.size(); ++i)
    resolved += (resolved == "/" ? "" : "/") + parts[i];
  bool strictly = access == contract::host_access::write;
  for (const auto& root : roots.dirs)
    if (inside(resolved, root, strictly))
      return resolved;
  return refuse(name, path,
                resolved == path
                  ? "is outside the host roots"
                  : "resolves to '" + resolved + "', outside the host roots",
                roots);
}

std::shared_mutex& host_path_lock() {
  static std::shared_mutex mtx;
  return mtx;
}

} // namespace pyro::mcp
