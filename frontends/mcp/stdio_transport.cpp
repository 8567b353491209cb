// The stdio transport: one session, one message per line. Each line goes
// to the session actor at once, so a ping is answered while a long tool
// call runs; replies are written whole, one per line, under a lock.

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/session.hpp"

namespace pyro::mcp {

namespace {

// What the worker threads share with the reader: the output stream and how
// many replies are still owed.
struct stdout_sink {
  std::mutex mtx;
  int owed = 0;
  std::condition_variable settled;

  void write(const std::string& text, bool is_reply) {
    std::lock_guard<std::mutex> guard{mtx};
    std::cout << text << '\n' << std::flush;
    if (is_reply && owed > 0 && --owed == 0)
      settled.notify_all();
  }
};

// +1 for a request (a reply is owed), -1 for a cancellation (the reply it
// names never comes), 0 otherwise.
int owed_change(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return 1; // answered with an error
  if (auto m = j.find("method");
      m != j.end() && *m == "notifications/cancelled")
    return -1;
  return j.contains("id") && j.contains("method") ? 1 : 0;
}

} // namespace

int serve_stdio(Pyro& sdk, contract::profile profile) {
  auto core = std::make_shared<server_core>(sdk, profile);
  auto session = spawn_session(sdk.system(), core);
  auto sink = std::make_shared<stdout_sink>();
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty() || line == "\r")
      continue;
    if (auto change = owed_change(line); change != 0) {
      std::lock_guard<std::mutex> guard{sink->mtx};
      sink->owed += change;
    }
    post_to_session(session, line, [sink](const std::string& text) {
      sink->write(text, is_reply_text(text));
    });
  }
  // Input closed: let calls in flight finish (bounded), then go.
  std::unique_lock<std::mutex> lock{sink->mtx};
  sink->settled.wait_for(lock, std::chrono::seconds{30},
                         [&] { return sink->owed <= 0; });
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace pyro::mcp
