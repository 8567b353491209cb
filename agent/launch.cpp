#include "agent/launch.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/confined_fs.hpp"
#include "messages/wire/byte_names.hpp"
#include "messages/wire/names.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

// A secret is a small UTF-8 value; the host caps it at 64 KiB too.
constexpr size_t max_secret_bytes = 64 * 1024;

bool valid_env_key(const std::string& key) {
  return !key.empty() && key.find('=') == std::string::npos
         && key.find('\0') == std::string::npos;
}

} // namespace

launch_plan::~launch_plan() {
  if (cwd_fd >= 0)
    ::close(cwd_fd);
}

void launch_plan::seal() {
  c_argv_.clear();
  for (auto& a : argv)
    c_argv_.push_back(a.data());
  c_argv_.push_back(nullptr);
  c_env_.clear();
  for (auto& e : env)
    c_env_.push_back(e.data());
  c_env_.push_back(nullptr);
}

void launch_plan::exec_child() const noexcept {
  cgroup_tree::join_in_child(cgroup_procs);
  if (cwd_fd >= 0 && ::fchdir(cwd_fd) != 0)
    ::_exit(126);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::execve(c_argv_[0], c_argv_.data(), c_env_.data());
  ::_exit(127);
}

result<std::unique_ptr<launch_plan>>
plan_launch(const agent_context& ctx, const json& req,
            std::vector<std::string> shell_default) {
  auto plan = std::make_unique<launch_plan>();
  if (auto a = req.find("argv"); a != req.end() && a->is_array()) {
    for (const auto& word : *a) {
      if (!word.is_string())
        return make_error(error_code::invalid_argument,
                          "every argv word must be a string");
      plan->argv.push_back(word.get<std::string>());
    }
  } else if (auto c = req.find("command"); c != req.end() && c->is_string()) {
    plan->argv = {"/bin/sh", "-c", wire::get_bytes(req, "command")};
  } else {
    plan->argv = std::move(shell_default);
  }
  if (plan->argv.empty() || plan->argv[0].empty())
    return make_error(error_code::invalid_argument,
                      "the request needs a non-empty argv or a command string");
  auto cwd = req.value("cwd", std::string{"/workspace"});
  auto parts = workspace_components(cwd);
  if (!parts)
    return parts.err();
  auto fd = open_beneath(ctx, ctx.workspace_fd, *parts, O_RDONLY | O_DIRECTORY);
  if (!fd)
    return fd.err();
  plan->cwd_fd = *fd;
  plan->cwd = guest_path(*parts);
  plan->env
    = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOME=/root", "LANG=C.UTF-8", "TERM=xterm-256color", "PWD=" + plan->cwd};
  if (auto e = req.find("env"); e != req.end() && e->is_object())
    for (const auto& [key, value] : e->items()) {
      if (!value.is_string() || !valid_env_key(key))
        return make_error(error_code::invalid_argument,
                          "env '" + key + "' must be a string NAME=value pair");
      plan->env.push_back(key + "=" + value.get<std::string>());
    }
  if (auto s = req.find("secret_env"); s != req.end() && s->is_object())
    for (const auto& [key, name] : s->items()) {
      if (!name.is_string() || !valid_env_key(key))
        return make_error(error_code::invalid_argument,
                          "secret_env maps an environment name to a secret "
                          "name; '"
                            + key + "' does not");
      auto value = read_secret(ctx, name.get<std::string>());
      if (!value)
        return value.err();
      plan->env.push_back(key + "=" + *value);
    }
  plan->seal();
  return plan;
}

result<std::string> runtime_dir(const agent_context& ctx,
                                const std::string& sub) {
  auto base = (ctx.root == "/" ? std::string{} : ctx.root) + "/run";
  ::mkdir(base.c_str(), 0755);
  auto dir = base + "/" + sub;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(error_code::internal,
                      "cannot create " + dir + ": " + std::strerror(errno));
  return dir;
}

result<std::string> read_secret(const agent_context& ctx,
                                const std::string& name) {
  if (!wire::is_secret_name(name))
    return make_error(error_code::invalid_argument,
                      "'" + name + "' is not a valid secret name");
  auto dir = runtime_dir(ctx, "pyro-secrets");
  if (!dir)
    return dir.err();
  int fd
    = ::open((*dir + "/" + name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return make_error(error_code::not_found,
                      "the workspace has no secret named '" + name + "'");
  std::string value;
  char buf[4096];
  ssize_t got;
  while ((got = ::read(fd, buf, sizeof(buf))) > 0
         && value.size() <= max_secret_bytes)
    value.append(buf, static_cast<size_t>(got));
  ::close(fd);
  return value;
}

} // namespace pyro::agent
