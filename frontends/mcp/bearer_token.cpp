#include "frontends/mcp/bearer_token.hpp"

#include <cerrno>
#include <cstring>

#include <sys/random.h>
#include <sys/stat.h>

#include "messages/sys/atomic_file.hpp"

namespace pyro::mcp {

result<std::string> random_token() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    auto n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_error(error_code::internal,
                        std::string{"getrandom: "} + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string token;
  for (auto b : bytes) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  return token;
}

std::filesystem::path token_file(const std::filesystem::path& home, int port) {
  return home / "mcp" / ("http-" + std::to_string(port) + ".token");
}

status write_token_file(const std::filesystem::path& file,
                        const std::string& token) {
  auto dir = file.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0)
    return make_error(error_code::unavailable,
                      "cannot make " + dir.string() + " private: "
                        + (ec ? ec.message() : std::strerror(errno)),
                      "check PYRO_HOME, or set PYRO_MCP_TOKEN");
  return sys::write_file_atomic(file, token + "\n", 0600);
}

} // namespace pyro::mcp
