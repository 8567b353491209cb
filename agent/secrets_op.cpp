// secrets_put: materialises a workspace's secrets as files under
// /run/pyro-secrets (a tmpfs in sandboxes and VMs), one per name, mode
// 0400. Values reach a process's environment only through `secret_env`.

#include <cerrno>
#include <cstring>
#include <set>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/launch.hpp"
#include "agent/ops.hpp"
#include "messages/wire/names.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

status write_secret(const std::string& dir, const std::string& name,
                    const std::string& value) {
  auto tmp = dir + "/." + name + ".tmp";
  auto path = dir + "/" + name;
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
  if (fd < 0)
    return make_error(error_code::internal, "cannot write secret '" + name
                                              + "': " + std::strerror(errno));
  bool ok = ::write(fd, value.data(), value.size())
            == static_cast<ssize_t>(value.size());
  ok = ::fchmod(fd, 0400) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error(error_code::internal,
                      "cannot write secret '" + name + "'");
  }
  return {};
}

} // namespace

status op_secrets_put(const agent_context& ctx, const json& req,
                      connection& conn) {
  auto secrets = req.find("secrets");
  if (secrets == req.end() || !secrets->is_object())
    return make_error(error_code::invalid_argument,
                      "secrets_put needs an object 'secrets' {name: value}");
  for (const auto& [name, value] : secrets->items())
    if (!wire::is_secret_name(name) || !value.is_string())
      return make_error(error_code::invalid_argument,
                        "secret '" + name
                          + "' needs a valid name and a string value");
  auto dir = runtime_dir(ctx, "pyro-secrets");
  if (!dir)
    return dir.err();
  std::set<std::string> kept;
  for (const auto& [name, value] : secrets->items()) {
    if (auto written = write_secret(*dir, name, value.get<std::string>());
        !written)
      return written;
    kept.insert(name);
  }
  // The set given is the whole set: anything else goes.
  if (DIR* d = ::opendir(dir->c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && kept.count(n) == 0)
        ::unlink((*dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  return conn.reply(json{{"names", json(kept)}});
}

} // namespace pyro::agent
