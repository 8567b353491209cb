#include "messages/sys/unix_socket.hpp"

#include <cstring>

#include <unistd.h>

namespace pyro::sys {

result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(error_code::invalid_argument,
                      "socket path too long (" + std::to_string(path.size())
                        + " bytes, max 107): " + path,
                      "use a shorter PYRO_HOME");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

std::optional<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return std::nullopt;
  return cred.uid;
}

bool peer_is_own_user(int fd) {
  auto uid = peer_uid(fd);
  return uid && (*uid == ::geteuid() || *uid == 0);
}

} // namespace pyro::sys
