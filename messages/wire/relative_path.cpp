#include "messages/wire/relative_path.hpp"

namespace pyro::wire {

namespace {

// Calls `on_part` for every component; stops early when it returns false.
template <class F>
bool for_each_part(std::string_view path, F on_part) {
  size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos)
      slash = path.size();
    if (!on_part(path.substr(start, slash - start)))
      return false;
    start = slash + 1;
  }
  return true;
}

} // namespace

std::optional<std::vector<std::string>> split_relative(std::string_view path) {
  if (!path.empty() && path.front() == '/')
    return std::nullopt;
  std::vector<std::string> parts;
  bool ok = for_each_part(path, [&](std::string_view part) {
    if (part == "..")
      return false;
    if (!part.empty() && part != ".")
      parts.emplace_back(part);
    return true;
  });
  if (!ok)
    return std::nullopt;
  return parts;
}

bool link_stays_inside(const std::vector<std::string>& member,
                       std::string_view target) {
  if (target.empty() || target.front() == '/' || member.empty())
    return false;
  auto depth = member.size() - 1; // the directory holding the link
  return for_each_part(target, [&](std::string_view part) {
    if (part == "..") {
      if (depth == 0)
        return false;
      --depth;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    return true;
  });
}

result<std::vector<std::string>> workspace_components(std::string_view path) {
  auto rest = path;
  if (!path.empty() && path.front() == '/') {
    if (path != "/workspace" && path.substr(0, 11) != "/workspace/")
      return make_error(error_code::invalid_argument,
                        "path '" + std::string{path}
                          + "' is outside /workspace",
                        "use a path under /workspace, or a relative one");
    rest = path.substr(10);
    while (!rest.empty() && rest.front() == '/')
      rest.remove_prefix(1);
  }
  if (rest.find('\0') != std::string_view::npos)
    return make_error(error_code::invalid_argument,
                      "the path contains a NUL byte");
  auto parts = split_relative(rest);
  if (!parts)
    return make_error(error_code::invalid_argument,
                      "path '" + std::string{path} + "' contains '..'",
                      "paths must stay under /workspace");
  return std::move(*parts);
}

std::string join_components(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : "/") + p;
  return out;
}

} // namespace pyro::wire
