#include "actors/guest_calls.hpp"

#include <chrono>
#include <set>

#include "actors/interrupted.hpp"
#include "actors/disk_tools.hpp"
#include "actors/published_ports.hpp"
#include "actors/redaction.hpp"
#include "actors/secret_store.hpp"
#include "actors/teardown.hpp"
#include "messages/terminal_text.hpp"
#include "actors/workspace_ops.hpp"
#include "messages/json_text.hpp"
#include "messages/sys/clock.hpp"

namespace pyro {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Calls that change the guest bump last_activity_at; reads do not.
const std::set<std::string>& mutating_ops() {
  static const std::set<std::string> ops{"shell_open",    "shell_write",
                                         "shell_signal",  "shell_close",
                                         "service_start", "service_stop"};
  return ops;
}

const std::set<std::string>& known_ops() {
  static const std::set<std::string> ops{
    "shell_open",    "shell_read",   "shell_write",    "shell_signal",
    "shell_close",   "service_list", "service_status", "service_logs",
    "service_start", "service_stop", "exec_cancel"};
  return ops;
}

// The agent's request for a contract call.
result<json> agent_args(const workspace_record& record, const std::string& op,
                        json args) {
  if (auto specs = args.find("secret_env"); specs != args.end()) {
    auto map = secret_env_map(record, specs->is_array()
                                        ? specs->get<std::vector<std::string>>()
                                        : std::vector<std::string>{});
    if (!map)
      return map.err();
    args["secret_env"] = *map;
  }
  if (op == "shell_write") {
    if (args.value("append_newline", true))
      args["input"] = args.value("input", std::string{}) + "\n";
    args.erase("append_newline");
  } else if (op == "shell_signal") {
    args["signal"] = args.value("signal_name", std::string{"INT"});
    args.erase("signal_name");
  } else if (op == "service_start") {
    args.erase("published_ports"); // the host's side, see network
  }
  args.erase("plain");
  return args;
}

// Timeouts: a read may wait for idleness, a start for readiness.
std::chrono::milliseconds call_timeout(const std::string& op, const json& a) {
  if (op == "shell_read")
    return std::chrono::milliseconds{a.value("wait_for_idle_ms", 0)} + 70s;
  if (op == "service_start")
    return std::chrono::seconds{
             static_cast<int64_t>(a.value("ready_timeout_seconds", 30.0))}
           + 60s;
  if (op == "service_stop")
    return std::chrono::seconds{
             static_cast<int64_t>(a.value("grace_seconds", 5.0))}
           + 30s;
  return 30s;
}

// A secret cut in two by a shell read's end is held back for the next read
// rather than shown half. The output is redacted here as well as on the way
// out, because plain rendering (carriage returns overwriting) could leave a
// secret's tail standing where the raw bytes held it whole.
void finish_shell_read(json& reply, const redactor& redact, bool plain) {
  auto output = reply.value("output", std::string{});
  if (!redact.empty() && reply.value("state", std::string{}) == "running") {
    auto hold = redact.unsafe_tail(output);
    if (hold > 0) {
      output.resize(output.size() - hold);
      reply["next_cursor"] = reply.value("next_cursor", uint64_t{0}) - hold;
    }
  }
  output = redact.apply(std::move(output));
  reply["output"] = plain ? render_plain(output) : output;
  reply["plain"] = plain;
}

} // namespace

result<json> guest_call(const state_store& store, const std::string& id,
                        const std::string& op, json args) {
  if (known_ops().count(op) == 0)
    return make_error(error_code::invalid_argument,
                      "'" + op + "' is not a shell or service operation");
  if (!args.is_object())
    args = json::object();
  args.erase("workspace_id");
  auto record = store.load(id);
  if (!record)
    return record.err();
  auto redact = redactor::for_workspace(store, *record);
  if (!redact)
    return redact.err();
  // Replies and errors are redacted by guest_worker_impl, on the way out.
  bool plain = args.value("plain", false);
  auto request = agent_args(*record, op, args);
  if (!request)
    return request.err();
  std::vector<port_mapping> ports;
  if (op == "service_start") {
    auto specs = args.value("published_ports", std::vector<std::string>{});
    auto parsed = parse_published_ports(*record, specs);
    if (!parsed)
      return parsed.err();
    ports = std::move(*parsed);
  }
  auto link = open_agent(store, *record);
  if (!link)
    return link.err();
  if (mutating_ops().count(op) != 0) {
    auto locked = lock_settled(store, id);
    if (!locked)
      return locked.err();
    locked->record.last_activity_at = sys::unix_now();
    if (auto saved = store.save(locked->record); !saved)
      return saved.err();
  }
  auto reply = (*link)->call(op, *request, call_timeout(op, *request));
  if (!reply)
    return reply.err();
  auto name = args.value("name", std::string{});
  if (op == "service_start" && !ports.empty()) {
    auto state = reply->value("state", std::string{});
    if (state == "ready" || state == "running") {
      auto published = publish_ports(store, *record, name, ports);
      if (!published) {
        // A service whose ports cannot be published is not left running.
        static_cast<void>(
          (*link)->call("service_stop", json{{"name", name}},
                        call_timeout("service_stop", json::object())));
        return published.err();
      }
      (*reply)["published_ports"] = *published;
    }
  } else if (op == "service_stop") {
    (*reply)["published_ports"] = unpublish_ports(store, *record, name);
  } else if (op == "service_status") {
    (*reply)["published_ports"] = published_ports_of(store, *record, name);
  }
  if (op == "shell_read")
    finish_shell_read(*reply, *redact, plain);
  (*reply)["workspace_id"] = id;
  return reply;
}

guest_worker_actor::behavior_type
guest_worker_impl(guest_worker_actor::pointer self, std::string id,
                  std::shared_ptr<const state_store> store) {
  return {
    [=](guest_atom, const std::string& op,
        const std::string& args) -> caf::result<std::string> {
      self->quit();
      // Loaded first: whatever the call returns, success or error, leaves
      // redacted.
      auto secrets = load_redactor(*store, id);
      if (!secrets)
        return to_caf(secrets.err());
      auto parsed = json::parse(args, nullptr, false);
      if (!parsed.is_object())
        parsed = json::object();
      auto reply = is_disk_op(op) ? disk_call(*store, id, op, parsed)
                                  : guest_call(*store, id, op, parsed);
      if (!reply) {
        auto err = reply.err();
        redact(secrets->values, err);
        return to_caf(err);
      }
      redact(secrets->values, *reply);
      return dump_json(*reply);
    },
  };
}

void show_live_state(const state_store& store, workspace_record& record) {
  record.service_counts.clear();
  // Mid-mutation with the lock free: whoever was at it is gone. Settled now
  // (rolled back or finished), so status tells what is there.
  if (record.state == "creating" || record.state == "resetting")
    if (auto settled
        = lock_settled(store, record.workspace_id, std::chrono::milliseconds{0}))
      record = settled->record;
  if (auto backend = backend_of(record))
    record.disk_limited
      = (*backend)->disk_limited(sandbox_spec_for(store, record));
  if (record.state == "failed")
    record.hint = failed_workspace_error(record).hint;
  if (show_if_expired(record) || record.state != "started"
      || show_if_gone(store, record))
    return;
  auto link = open_agent(store, record);
  if (!link) {
    if (link.err().code == error_code::unavailable) {
      record.state = "unresponsive";
      record.hint = link.err().hint;
    }
    return;
  }
  auto listed = (*link)->call("service_list", json::object(), 5s);
  if (!listed || !listed->contains("services"))
    return;
  int64_t total = 0;
  for (const auto& s : listed->at("services")) {
    ++total;
    ++record.service_counts[s.value("state", std::string{"unknown"})];
  }
  record.service_counts["total"] = total;
}

} // namespace pyro
