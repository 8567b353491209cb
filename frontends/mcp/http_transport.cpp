// Streamable HTTP: POST /mcp carries one JSON-RPC message; the reply comes
// back as JSON, or as a short SSE stream (progress notifications, then the
// reply) when the client accepts one and the call is a tools/call. GET has
// no server-initiated stream to offer (405); DELETE ends a session.
// Bound to 127.0.0.1 by default; Host and Origin are checked against DNS
// rebinding, and a bearer token is required when one is configured.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include <httplib.h>

#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/session.hpp"
#include "messages/json_text.hpp"

namespace pyro::mcp {

using nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr auto reply_limit = std::chrono::hours{2};
constexpr auto session_idle_limit = std::chrono::hours{1};

// The messages one POST is owed, filled by the session actor.
struct reply_channel {
  std::mutex mtx;
  std::condition_variable ready;
  std::deque<std::string> queue;
  bool done = false;

  void push(const std::string& text) {
    std::lock_guard<std::mutex> guard{mtx};
    queue.push_back(text);
    if (is_reply_text(text))
      done = true; // the reply itself; notifications come before it
    ready.notify_all();
  }

  // The next message, or nullopt once the reply has been taken.
  std::optional<std::string> pop() {
    std::unique_lock<std::mutex> lock{mtx};
    if (!ready.wait_for(lock, reply_limit, [&] { return !queue.empty(); }))
      return std::nullopt;
    auto text = std::move(queue.front());
    queue.pop_front();
    return text;
  }
};

std::string new_session_id() {
  static std::mutex mtx;
  static std::random_device rd;
  static std::mt19937_64 gen{(static_cast<uint64_t>(rd()) << 32) ^ rd()};
  std::lock_guard<std::mutex> guard{mtx};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i)
    id += hex[gen() & 15];
  return id;
}

// localhost, 127.x, ::1 and the configured host are what a browser page on
// another site cannot make us answer through DNS rebinding.
bool local_name(const std::string& host, const std::string& bound) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]"
         || host.rfind("127.", 0) == 0 || host == bound;
}

std::string host_part(const std::string& authority) {
  if (!authority.empty() && authority[0] == '[')
    return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

void send_error(httplib::Response& res, int status, int code,
                const std::string& message, const json& id = nullptr) {
  res.status = status;
  res.set_content(dump_json(rpc_error(id, code, message)), "application/json");
}

class http_server {
public:
  http_server(Pyro& sdk, contract::profile profile, http_options options)
    : sdk_(sdk), profile_(profile), options_(std::move(options)) {
    // nop
  }

  int run() {
    httplib::Server svr;
    // Long calls hold their thread; many sessions need many threads.
    svr.new_task_queue = [] {
      return new httplib::ThreadPool(512);
    };
    svr.set_payload_max_length(options_.max_body_bytes);
    // SO_REUSEADDR only: the library's default SO_REUSEPORT would let any
    // other process of the same user bind this port too and take a share
    // of the connections.
    socket_t listening = -1;
    svr.set_socket_options([&listening](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listening = sock;
    });
    svr.Post("/mcp", [this](const httplib::Request& req,
                            httplib::Response& res) { post(req, res); });
    svr.Get("/mcp",
            [this](const httplib::Request& req, httplib::Response& res) {
              if (!admitted(req, res))
                return;
              res.status = 405;
              res.set_header("Allow", "POST, DELETE");
            });
    svr.Delete("/mcp", [this](const httplib::Request& req,
                              httplib::Response& res) { remove(req, res); });
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.status == 413)
        send_error(res, 413, -32600, "Request body too large");
    });
    std::cerr << "pyro mcp: serving http://" << options_.host << ":"
              << options_.port << "/mcp" << std::endl;
    if (!svr.bind_to_port(options_.host.c_str(), options_.port)) {
      std::cerr << "pyro mcp: cannot listen on " << options_.host << ":"
                << options_.port << " (is the port in use?)" << std::endl;
      return 6;
    }
    // The library listens with a backlog of 5; a fleet of agents connecting
    // at once would see dropped SYNs and one-second stalls.
    if (listening >= 0)
      ::listen(listening, 4096);
    return svr.listen_after_bind() ? 0 : 6;
  }

private:
  bool admitted(const httplib::Request& req, httplib::Response& res) {
    auto host = host_part(req.get_header_value("Host"));
    if (!host.empty() && !local_name(host, options_.host)) {
      send_error(res, 403, -32600,
                 "Forbidden: Host '" + host + "' is not allowed");
      return false;
    }
    if (req.has_header("Origin")) {
      auto origin = req.get_header_value("Origin");
      auto scheme_end = origin.find("://");
      auto authority = scheme_end == std::string::npos
                         ? origin
                         : origin.substr(scheme_end + 3);
      if (!local_name(host_part(authority), options_.host)) {
        send_error(res, 403, -32600,
                   "Forbidden: Origin '" + origin + "' is not allowed");
        return false;
      }
    }
    if (!options_.bearer_token.empty()
        && req.get_header_value("Authorization")
             != "Bearer " + options_.bearer_token) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, -32600, "Unauthorized: a bearer token is required");
      return false;
    }
    if (req.has_header("MCP-Protocol-Version")) {
      auto v = req.get_header_value("MCP-Protocol-Version");
      bool known = false;
      for (const char* s : supported_versions)
        known = known || v == s;
      if (!known) {
        send_error(res, 400, -32600, "Unsupported MCP-Protocol-Version " + v);
        return false;
      }
    }
    return true;
  }

  std::optional<caf::actor> find_session(const httplib::Request& req,
                                         httplib::Response& res) {
    if (!req.has_header("Mcp-Session-Id")) {
      send_error(res, 400, -32600, "Bad Request: Mcp-Session-Id is required");
      return std::nullopt;
    }
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = sessions_.find(req.get_header_value("Mcp-Session-Id"));
    if (i == sessions_.end()) {
      send_error(res, 404, -32001, "Session not found");
      return std::nullopt;
    }
    i->second.last_used = clock_type::now();
    return i->second.actor;
  }

  // Clients that vanish without DELETE leave sessions behind; one unused
  // for an hour is ended when the next session starts (its client then
  // gets 404 and initializes again, as the protocol expects).
  void sweep_idle_locked() {
    auto cutoff = clock_type::now() - session_idle_limit;
    for (auto i = sessions_.begin(); i != sessions_.end();) {
      if (i->second.last_used < cutoff) {
        caf::anon_send_exit(i->second.actor, caf::exit_reason::user_shutdown);
        i = sessions_.erase(i);
      } else {
        ++i;
      }
    }
  }

  void post(const httplib::Request& req, httplib::Response& res) {
    if (!admitted(req, res))
      return;
    auto msg = json::parse(req.body, nullptr, false);
    if (msg.is_discarded()) {
      res.status = 400;
      res.set_content(dump_json(server_core::parse_error("not valid JSON")),
                      "application/json");
      return;
    }
    caf::actor session;
    bool initialize
      = msg.is_object() && msg.value("method", "") == "initialize";
    if (initialize) {
      auto id = new_session_id();
      session = spawn_session(sdk_.system(),
                              std::make_shared<server_core>(sdk_, profile_));
      {
        std::lock_guard<std::mutex> guard{mtx_};
        sweep_idle_locked();
        sessions_[id] = {session, clock_type::now()};
      }
      res.set_header("Mcp-Session-Id", id);
    } else {
      auto found = find_session(req, res);
      if (!found)
        return;
      session = *found;
    }
    bool expects_reply
      = msg.is_object() && msg.contains("id") && msg.contains("method");
    if (!msg.is_object()) // arrays and the like: the session says why
      expects_reply = true;
    if (!expects_reply) {
      post_to_session(session, req.body, [](const std::string&) {});
      res.status = 202;
      return;
    }
    auto channel = std::make_shared<reply_channel>();
    post_to_session(session, req.body, [channel](const std::string& text) {
      channel->push(text);
    });
    bool stream = msg.value("method", "") == "tools/call"
                  && req.get_header_value("Accept").find("text/event-stream")
                       != std::string::npos;
    if (!stream) {
      // Only the reply: notifications without a stream have nowhere to go.
      for (auto text = channel->pop(); text; text = channel->pop()) {
        if (is_reply_text(*text)) {
          res.set_content(*text, "application/json");
          return;
        }
      }
      send_error(res, 504, -32603, "no reply in time", msg.value("id", json()));
      return;
    }
    res.set_chunked_content_provider(
      "text/event-stream", [channel](size_t, httplib::DataSink& sink) {
        auto text = channel->pop();
        if (!text) {
          sink.done();
          return true;
        }
        auto event = "event: message\ndata: " + *text + "\n\n";
        if (!sink.write(event.data(), event.size()))
          return false;
        if (is_reply_text(*text))
          sink.done();
        return true;
      });
  }

  void remove(const httplib::Request& req, httplib::Response& res) {
    if (!admitted(req, res))
      return;
    auto found = find_session(req, res);
    if (!found)
      return;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      sessions_.erase(req.get_header_value("Mcp-Session-Id"));
    }
    caf::anon_send_exit(*found, caf::exit_reason::user_shutdown);
    res.status = 200;
  }

  Pyro& sdk_;
  contract::profile profile_;
  http_options options_;
  std::mutex mtx_;
  struct session_entry {
    caf::actor actor;
    clock_type::time_point last_used;
  };
  std::map<std::string, session_entry> sessions_;
};

} // namespace

int serve_http(Pyro& sdk, contract::profile profile,
               const http_options& options) {
  return http_server{sdk, profile, options}.run();
}

} // namespace pyro::mcp
