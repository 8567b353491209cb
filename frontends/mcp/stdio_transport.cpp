// The stdio transport: one session, one message per line. Each line goes
// to the session actor at once, so a ping is answered while a long tool
// call runs; replies are written whole, one per line, under a lock. Lines
// are read with a bound: one longer than a message may be is answered
// with an error and skipped, never held in memory whole.

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

#include "frontends/mcp/message_limits.hpp"
#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/session.hpp"
#include "messages/json_text.hpp"

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
int owed_change(const nlohmann::json& j) {
  if (!j.is_object())
    return 1; // answered with an error
  if (auto m = j.find("method");
      m != j.end() && *m == "notifications/cancelled")
    return -1;
  return j.contains("id") && j.contains("method") ? 1 : 0;
}

// Lines of stdin, each at most `limit` bytes; a longer one comes back
// flagged, its text dropped.
class line_reader {
public:
  explicit line_reader(size_t limit) : limit_(limit) {
    // nop
  }

  // False at the end of input.
  bool next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    for (;;) {
      auto nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        if (!too_long)
          line.append(buf_, pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      if (!too_long) {
        line.append(buf_, pos_, std::string::npos);
        if (line.size() > limit_) {
          too_long = true;
          line.clear();
        }
      }
      buf_.clear();
      pos_ = 0;
      char chunk[64 * 1024];
      auto n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return !line.empty() || too_long; // a last line without newline
      buf_.assign(chunk, static_cast<size_t>(n));
    }
  }

private:
  size_t limit_;
  std::string buf_;
  size_t pos_ = 0;
};

} // namespace

int serve_stdio(Pyro& sdk, const server_options& options) {
  auto core = std::make_shared<server_core>(&sdk, options);
  auto session = spawn_session(sdk.system(), core);
  auto sink = std::make_shared<stdout_sink>();
  line_reader reader{max_message_bytes};
  std::string line;
  bool too_long = false;
  while (reader.next(line, too_long)) {
    if (too_long) {
      sink->write(
        dump_json(rpc_error(nullptr, -32600,
                            "Invalid Request: a line is larger "
                            "than the limit of "
                              + std::to_string(max_message_bytes) + " bytes")),
        false);
      continue;
    }
    if (line.empty() || line == "\r")
      continue;
    // Bounded before anything parses it; what fails is answered here.
    auto parsed = parse_message(line);
    if (!parsed.ok()) {
      sink->write(dump_json(parsed.error), false);
      continue;
    }
    if (auto change = owed_change(parsed.message); change != 0) {
      std::lock_guard<std::mutex> guard{sink->mtx};
      sink->owed += change;
    }
    post_to_session(
      session, line,
      [sink](const std::string& text) {
        sink->write(text, is_reply_text(text));
      },
      true);
  }
  // Input closed: let calls in flight finish (bounded), then go.
  std::unique_lock<std::mutex> lock{sink->mtx};
  sink->settled.wait_for(lock, std::chrono::seconds{30},
                         [&] { return sink->owed <= 0; });
  caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace pyro::mcp
