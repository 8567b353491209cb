#include "vmm/sandbox/id_map.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace pyro::vmm {

namespace {

bool write_proc(pid_t pid, const char* file, const std::string& text) {
  auto path = "/proc/" + std::to_string(pid) + "/" + file;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = ::write(fd, text.data(), text.size())
            == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

} // namespace

result<id_map> sandbox_id_map() {
  if (::geteuid() != 0)
    return id_map{static_cast<uint32_t>(::getuid()),
                  static_cast<uint32_t>(::getgid()), 1};
  id_map map{default_id_base, default_id_base, default_id_count};
  const char* text = std::getenv("PYRO_SANDBOX_ID_RANGE");
  if (text == nullptr || *text == '\0')
    return map;
  char* end = nullptr;
  errno = 0;
  auto first = std::strtoull(text, &end, 10);
  unsigned long long count = default_id_count;
  if (end != text && *end == ':')
    count = std::strtoull(end + 1, &end, 10);
  // Ids up to 65535 inside are what a Debian root file system uses; the
  // range must end below 2^32 - 1 (the invalid id).
  if (errno != 0 || end == text || *end != '\0' || first == 0
      || count < default_id_count || first + count > 0xFFFFFFFFull)
    return make_error(error_code::invalid_argument,
                      std::string{"PYRO_SANDBOX_ID_RANGE='"} + text
                        + "' is not FIRST:COUNT with FIRST > 0, COUNT >= "
                        + std::to_string(default_id_count)
                        + " and FIRST + COUNT < 2^32",
                      "unset it to use " + std::to_string(default_id_base)
                        + ":" + std::to_string(default_id_count));
  map.host_uid = map.host_gid = static_cast<uint32_t>(first);
  map.count = static_cast<uint32_t>(count);
  return map;
}

std::string write_id_map(pid_t pid, const id_map& map) {
  auto line = [&](uint32_t host) {
    return "0 " + std::to_string(host) + " " + std::to_string(map.count)
           + "\n";
  };
  if (!map.shifted() && !write_proc(pid, "setgroups", "deny"))
    return std::string{"cannot deny setgroups in the sandbox: "}
           + std::strerror(errno);
  if (!write_proc(pid, "uid_map", line(map.host_uid))
      || !write_proc(pid, "gid_map", line(map.host_gid)))
    return std::string{"cannot map ids into the sandbox's user namespace: "}
           + std::strerror(errno);
  return {};
}

} // namespace pyro::vmm
