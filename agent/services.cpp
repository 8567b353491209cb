#include "agent/services.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup_tree.hpp"
#include "agent/launch.hpp"
#include "agent/ops.hpp"
#include "agent/process_table.hpp"
#include "agent/readiness.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/clock.hpp"
#include "messages/wire/names.hpp"

namespace pyro::agent {

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t max_services = 64;
constexpr uint64_t default_log_bytes = 1u << 20;

struct service {
  std::string name;
  std::vector<std::string> argv;
  std::string cwd;
  readiness_probe probe;
  std::string log_dir; // host path
  pid_t pid = -1;
  /// Everything the service started; stop ends it all.
  cgroup_group group;

  std::mutex mtx;
  std::condition_variable changed;
  std::string state = "starting";
  std::string reason;
  bool stopping = false;
  bool process_ended = false;
  int exit_code = -1;
  int signal = 0;
  double started_at = 0;
  double ready_at = 0;
  double ended_at = 0;

  [[nodiscard]] bool ended() const {
    return state == "exited" || state == "stopped" || state == "failed";
  }

  json describe() const {
    auto time_or_null = [](double t) -> json {
      return t > 0 ? json(sys::format_utc(t)) : json(nullptr);
    };
    json j{{"name", name},
           {"state", state},
           {"pid", pid},
           {"argv", argv},
           {"cwd", cwd},
           {"readiness", probe.to_json()},
           {"log_dir", "/run/pyro-services/" + name},
           {"started_at", time_or_null(started_at)},
           {"ready_at", time_or_null(ready_at)},
           {"ended_at", time_or_null(ended_at)},
           {"exit_code",
            process_ended && signal == 0 ? json(exit_code) : json(nullptr)},
           {"signal", signal}};
    if (!reason.empty())
      j["reason"] = reason;
    return j;
  }

  // Written on every change, beside the logs, for anyone reading the
  // guest's /run after the agent has gone.
  void save_locked() const {
    std::ofstream out{log_dir + "/service.json", std::ios::trunc};
    out << dump_json(describe()) << '\n';
  }

  void set_state(const std::string& next, const std::string& why = {}) {
    state = next;
    if (!why.empty())
      reason = why;
    save_locked();
    changed.notify_all();
  }
};

using service_ptr = std::shared_ptr<service>;

class service_table {
public:
  static service_table& instance() {
    static service_table table;
    return table;
  }

  result<service_ptr> find(const json& req) {
    auto name = string_field(req, "name");
    if (!name)
      return name.err();
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = services_.find(*name);
    if (i == services_.end())
      return make_error(error_code::not_found,
                        "no service named '" + *name + "' in this workspace");
    return i->second;
  }

  // A name is free when unused or when its service has ended.
  status claim(const service_ptr& s) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = services_.find(s->name); i != services_.end()) {
      std::lock_guard<std::mutex> inner{i->second->mtx};
      if (!i->second->ended())
        return make_error(error_code::already_exists,
                          "service '" + s->name + "' is already "
                            + i->second->state,
                          "stop it first, or pick another name");
    } else if (services_.size() >= max_services) {
      return make_error(error_code::resource_exhausted,
                        "this workspace already runs 64 services");
    }
    services_[s->name] = s;
    return {};
  }

  json list() {
    std::lock_guard<std::mutex> guard{mtx_};
    json out = json::array();
    for (const auto& [name, s] : services_) {
      std::lock_guard<std::mutex> inner{s->mtx};
      out.push_back(s->describe());
    }
    return out;
  }

private:
  std::mutex mtx_;
  std::map<std::string, service_ptr> services_;
};

void record_end(service& s, int wstatus) {
  s.process_ended = true;
  s.ended_at = sys::unix_now();
  if (WIFEXITED(wstatus))
    s.exit_code = WEXITSTATUS(wstatus);
  else if (WIFSIGNALED(wstatus))
    s.signal = WTERMSIG(wstatus);
  if (s.stopping)
    s.set_state("stopped");
  else if (s.state == "starting")
    s.set_state("failed",
                "the process ended before it was ready ("
                  + (s.signal ? "signal " + std::to_string(s.signal)
                              : "exit code " + std::to_string(s.exit_code))
                  + ")");
  else // a failed service stays failed; anything else ended on its own
    s.set_state(s.state == "failed" ? "failed" : "exited");
}

// The one thread that probes readiness and collects the exit status.
void monitor(const agent_context& ctx, service_ptr s) {
  auto& table = process_table::instance();
  int exit_fd = open_pidfd(s->pid);
  auto deadline = clock_type::now()
                  + std::chrono::milliseconds{
                    static_cast<int64_t>(s->probe.timeout_seconds * 1000)};
  for (;;) {
    bool starting;
    {
      std::lock_guard<std::mutex> guard{s->mtx};
      starting = s->state == "starting" && !s->stopping;
    }
    if (starting) {
      bool ready = probe_once(ctx, s->probe);
      std::lock_guard<std::mutex> guard{s->mtx};
      if (s->state == "starting" && !s->stopping) {
        if (ready) {
          s->ready_at = sys::unix_now();
          s->set_state(s->probe.type == "none" ? "running" : "ready");
        } else if (clock_type::now() >= deadline) {
          s->set_state(
            "failed",
            "the " + s->probe.type + " probe '" + s->probe.target
              + "' did not succeed within "
              + std::to_string(static_cast<int>(s->probe.timeout_seconds))
              + " s");
          ::kill(-s->pid, SIGKILL); // a service that never got ready goes
          s->group.kill();
        }
      }
      starting = s->state == "starting";
    }
    int wait_ms = starting ? s->probe.interval_ms : -1;
    if (exit_fd < 0) {
      // No pidfd: poll the table instead.
      if (auto st = table.wait(
            s->pid, clock_type::now()
                      + std::chrono::milliseconds{starting ? wait_ms : 500})) {
        std::lock_guard<std::mutex> guard{s->mtx};
        record_end(*s, *st);
        return;
      }
      continue;
    }
    pollfd p{exit_fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) > 0) {
      auto st = table.wait(s->pid, clock_type::now() + std::chrono::seconds{5});
      ::close(exit_fd);
      std::lock_guard<std::mutex> guard{s->mtx};
      record_end(*s, st.value_or(0));
      return;
    }
  }
}

int open_log(const std::string& path) {
  return ::open(
    path.c_str(),
    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
}

// The last `lines` lines (all when 0) of at most `max_bytes` from the end.
std::pair<std::string, bool> tail_file(const std::string& path, uint64_t lines,
                                       uint64_t max_bytes) {
  std::ifstream in{path, std::ios::binary | std::ios::ate};
  if (!in)
    return {std::string{}, false};
  auto size = static_cast<uint64_t>(in.tellg());
  auto take = std::min(size, max_bytes);
  std::string text(take, '\0');
  in.seekg(static_cast<std::streamoff>(size - take));
  in.read(text.data(), static_cast<std::streamsize>(take));
  bool truncated = take < size;
  if (lines > 0) {
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n')
      --pos;
    uint64_t seen = 0;
    while (pos > 0) {
      auto nl = text.rfind('\n', pos - 1);
      if (nl == std::string::npos) {
        pos = 0;
        break;
      }
      if (++seen == lines) {
        pos = nl + 1;
        truncated = true;
        break;
      }
      pos = nl;
    }
    if (seen < lines)
      pos = 0;
    text.erase(0, pos);
  }
  return {text, truncated};
}

} // namespace

status op_service_start(const agent_context& ctx, const json& req,
                        connection& conn) {
  auto name = string_field(req, "name");
  if (!name)
    return name.err();
  if (!wire::is_service_name(*name))
    return make_error(error_code::invalid_argument,
                      "service name '" + *name + "' is not valid",
                      "use letters, digits, '.', '_' and '-', at most 64");
  if (req.find("argv") == req.end() && req.find("command") == req.end())
    return make_error(error_code::invalid_argument,
                      "a service needs a command or argv");
  auto probe = parse_readiness(req);
  if (!probe)
    return probe.err();
  auto plan = plan_launch(ctx, req);
  if (!plan)
    return plan.err();
  auto base = runtime_dir(ctx, "pyro-services");
  if (!base)
    return base.err();
  auto s = std::make_shared<service>();
  s->name = *name;
  s->argv = (*plan)->argv;
  s->cwd = (*plan)->cwd;
  s->probe = *probe;
  s->probe.cwd = s->cwd;
  s->log_dir = *base + "/" + *name;
  if (auto claimed = service_table::instance().claim(s); !claimed)
    return claimed;
  ::mkdir(s->log_dir.c_str(), 0700);
  int out = open_log(s->log_dir + "/stdout.log");
  int err = open_log(s->log_dir + "/stderr.log");
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || null_fd < 0) {
    auto why = std::string{"cannot open the logs under "} + s->log_dir + ": "
               + std::strerror(errno);
    for (int fd : {out, err, null_fd})
      if (fd >= 0)
        ::close(fd);
    std::lock_guard<std::mutex> guard{s->mtx};
    s->set_state("failed", why);
    return make_error(error_code::internal, why);
  }
  auto group = cgroup_tree::instance().make("service");
  if (!group) {
    for (int fd : {out, err, null_fd})
      ::close(fd);
    std::lock_guard<std::mutex> guard{s->mtx};
    s->set_state("failed", group.err().message);
    return group.err();
  }
  std::unique_lock<std::mutex> lock{s->mtx};
  s->group = std::move(*group);
  (*plan)->cgroup_procs = s->group.procs_fd();
  s->started_at = sys::unix_now();
  pid_t pid = process_table::instance().fork_tracked();
  if (pid == 0) {
    ::setsid();
    ::dup2(null_fd, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    (*plan)->exec_child();
  }
  for (int fd : {out, err, null_fd})
    ::close(fd);
  if (pid < 0) {
    s->set_state("failed", "fork failed");
    return make_error(error_code::resource_exhausted,
                      std::string{"fork: "} + std::strerror(errno));
  }
  s->pid = pid;
  s->save_locked();
  std::thread{[&ctx, s] {
    monitor(ctx, s);
  }}.detach();
  if (req.value("wait", true)) {
    auto limit = std::chrono::milliseconds{
      static_cast<int64_t>(s->probe.timeout_seconds * 1000) + 15000};
    s->changed.wait_for(lock, limit, [&] { return s->state != "starting"; });
  }
  return conn.reply(s->describe());
}

status op_service_status(const agent_context&, const json& req,
                         connection& conn) {
  auto s = service_table::instance().find(req);
  if (!s)
    return s.err();
  std::lock_guard<std::mutex> guard{(*s)->mtx};
  return conn.reply((*s)->describe());
}

status op_service_list(const agent_context&, const json&, connection& conn) {
  return conn.reply(json{{"services", service_table::instance().list()}});
}

status op_service_logs(const agent_context&, const json& req,
                       connection& conn) {
  auto s = service_table::instance().find(req);
  if (!s)
    return s.err();
  auto lines = req.value("tail_lines", uint64_t{0});
  auto max_bytes = req.value("max_bytes", default_log_bytes);
  auto [out, out_cut]
    = tail_file((*s)->log_dir + "/stdout.log", lines, max_bytes);
  auto [err, err_cut]
    = tail_file((*s)->log_dir + "/stderr.log", lines, max_bytes);
  std::lock_guard<std::mutex> guard{(*s)->mtx};
  return conn.reply(json{{"name", (*s)->name},
                         {"state", (*s)->state},
                         {"stdout", out},
                         {"stderr", err},
                         {"truncated", out_cut || err_cut}});
}

status op_service_stop(const agent_context&, const json& req,
                       connection& conn) {
  auto found = service_table::instance().find(req);
  if (!found)
    return found.err();
  auto s = *found;
  auto grace = req.value("grace_seconds", 5.0);
  if (!(grace >= 0) || grace > 600)
    return make_error(error_code::invalid_argument,
                      "grace_seconds must be in [0, 600]");
  {
    std::lock_guard<std::mutex> guard{s->mtx};
    if (s->process_ended) {
      s->group.kill(); // what it left running when it exited
      return conn.reply(s->describe());
    }
    s->stopping = true;
  }
  stop_group(s->pid,
             std::chrono::milliseconds{static_cast<int64_t>(grace * 1000)},
             [&](clock_type::time_point deadline) {
               std::unique_lock<std::mutex> lock{s->mtx};
               return s->changed.wait_until(lock, deadline,
                                            [&] { return s->process_ended; });
             });
  std::lock_guard<std::mutex> guard{s->mtx};
  s->group.kill();
  return conn.reply(s->describe());
}

status op_service_wait(const agent_context&, const json& req,
                       connection& conn) {
  auto found = service_table::instance().find(req);
  if (!found)
    return found.err();
  auto s = *found;
  auto timeout = req.value("timeout_seconds", 60.0);
  if (!(timeout >= 0) || timeout > 600)
    return make_error(error_code::invalid_argument,
                      "timeout_seconds must be in [0, 600]");
  std::unique_lock<std::mutex> lock{s->mtx};
  auto pid = req.find("pid");
  bool replaced = pid != req.end() && pid->is_number_integer()
                  && pid->get<int64_t>() != s->pid;
  if (!replaced)
    s->changed.wait_for(
      lock, std::chrono::milliseconds{static_cast<int64_t>(timeout * 1000)},
      [&] { return s->process_ended; });
  auto reply = s->describe();
  reply["ended"] = replaced || s->process_ended;
  return conn.reply(reply);
}

} // namespace pyro::agent
