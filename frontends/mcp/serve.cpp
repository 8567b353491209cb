#include "frontends/mcp/serve.hpp"

#include <climits>

#include <unistd.h>

namespace pyro::mcp {

host_roots working_directory_roots() {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof(buf)) != nullptr)
    if (auto dir = resolve_root(buf))
      return {{*dir}, "the directory the server was started in"};
  return {{}, "the server's working directory cannot be resolved"};
}

int serve_stdio(Pyro& sdk, contract::profile profile) {
  server_options options;
  options.profile = profile;
  options.fallback_roots = working_directory_roots();
  return serve_stdio(sdk, options);
}

int serve_http(Pyro& sdk, contract::profile profile, const http_options& http) {
  server_options options;
  options.profile = profile;
  return serve_http(sdk, options, http);
}

} // namespace pyro::mcp
