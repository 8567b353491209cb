#include "frontends/mcp/session.hpp"

#include <atomic>
#include <map>

#include "caf/all.hpp"

#include "frontends/mcp/message_limits.hpp"
#include "messages/json_text.hpp"
#include "messages/type_ids.hpp"

namespace pyro::mcp {

using nlohmann::json;

namespace {

struct pending_call {
  caf::actor worker;
  std::shared_ptr<std::atomic<bool>> cancelled;
  json request;
  std::string cancel_tag;
};

struct session_state {
  std::shared_ptr<server_core> core;
  /// In-flight tool calls by request id (as JSON text).
  std::map<std::string, pending_call> calls;
  uint64_t next_tag = 0;
  static inline const char* name = "mcp-session";
};

// The worker's whole life: one blocking call, one reply, unless cancelled.
void run_call(caf::event_based_actor* self, std::shared_ptr<server_core> core,
              json request, progress_sink out, bool can_ask,
              std::shared_ptr<std::atomic<bool>> cancelled,
              std::string cancel_tag, caf::actor session) {
  auto emit = [out, cancelled](const std::string& text) {
    if (!*cancelled)
      out.emit(text);
  };
  json reply;
  try {
    reply = core->call_tool(request, emit, can_ask, cancel_tag);
  } catch (const std::exception& e) {
    // An uncaught exception would end the worker without a reply, and the
    // client would wait for one forever.
    reply = server_core::internal_error(request, e.what());
  }
  if (!*cancelled)
    out.emit(dump_json(reply));
  self->send(session, caf::atom("done"), dump_json(request["id"]));
  self->quit();
}

caf::behavior session_impl(caf::stateful_actor<session_state>* self,
                           std::shared_ptr<server_core> core) {
  self->state.core = std::move(core);
  return {
    [=](const std::string& text, const progress_sink& out, bool can_ask) {
      auto& st = self->state;
      auto parsed = parse_message(text);
      if (!parsed.ok()) {
        out.emit(dump_json(parsed.error));
        return;
      }
      auto& msg = parsed.message;
      auto method = msg.find("method");
      if (method != msg.end() && *method == "notifications/cancelled") {
        json id;
        if (auto p = msg.find("params"); p != msg.end() && p->is_object())
          id = p->value("requestId", json());
        auto i = st.calls.find(dump_json(id));
        if (i != st.calls.end()) {
          *i->second.cancelled = true;
          self->send_exit(i->second.worker, caf::exit_reason::user_shutdown);
          // What the call started in a sandbox ends too, from a worker of
          // its own: that takes a round trip to the agent.
          self->spawn<caf::detached>(
            [](caf::event_based_actor* worker,
               std::shared_ptr<server_core> core, json request,
               std::string tag) {
              core->cancel_call(request, tag);
              worker->quit();
            },
            st.core, i->second.request, i->second.cancel_tag);
          st.calls.erase(i);
        }
        return;
      }
      server_core::outcome outcome;
      try {
        outcome = st.core->handle(msg);
      } catch (const std::exception& e) {
        // A message the core's checks did not foresee is answered, and the
        // session (with its calls in flight) goes on.
        out.emit(dump_json(server_core::internal_error(msg, e.what())));
        return;
      }
      if (outcome.action == server_core::outcome::reply) {
        out.emit(outcome.text.empty() ? dump_json(outcome.message)
                                      : outcome.text);
      } else if (outcome.action == server_core::outcome::tool_call) {
        auto cancelled = std::make_shared<std::atomic<bool>>(false);
        auto tag = "mcp-" + std::to_string(self->id()) + "-"
                   + std::to_string(++st.next_tag);
        auto worker = self->spawn<caf::detached>(
          run_call, st.core, msg, out, can_ask, cancelled, tag,
          caf::actor_cast<caf::actor>(self));
        st.calls[dump_json(msg["id"])] = {worker, cancelled, msg, tag};
      }
    },
    [=](caf::atom_value what, const std::string& id) {
      if (what == caf::atom("done"))
        self->state.calls.erase(id);
    },
  };
}

} // namespace

caf::actor spawn_session(caf::actor_system& sys,
                         std::shared_ptr<server_core> core) {
  // Started by its first message: over HTTP most sessions never send one
  // (only tool calls and cancellations reach the actor), and starting
  // a thousand at once kept the scheduler's threads busy.
  return sys.spawn<caf::lazy_init>(session_impl, std::move(core));
}

void post_to_session(const caf::actor& session, std::string text,
                     std::function<void(const std::string&)> out,
                     bool can_ask) {
  caf::anon_send(session, std::move(text), progress_sink{std::move(out)},
                 can_ask);
}

} // namespace pyro::mcp
