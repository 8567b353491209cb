#include "frontends/mcp/client_roots.hpp"

namespace pyro::mcp {

using nlohmann::json;

namespace {

// The answer's roots as host directories. Entries that are not file URIs of
// this host, or not existing directories, are left out rather than
// guessed at.
host_roots roots_from(const json& msg) {
  host_roots out;
  auto error = msg.find("error");
  if (error != msg.end()) {
    auto message
      = error->is_object() ? error->value("message", json()) : json();
    out.source = "the client answered roots/list with an error: "
                 + (message.is_string() ? message.get<std::string>()
                                        : std::string{"no message"});
    return out;
  }
  out.source = "listed by the client";
  auto result = msg.find("result");
  if (result == msg.end() || !result->is_object())
    return out;
  auto roots = result->find("roots");
  if (roots == result->end() || !roots->is_array())
    return out;
  for (const auto& root : *roots) {
    if (!root.is_object())
      continue;
    auto uri = root.value("uri", json());
    if (!uri.is_string())
      continue;
    auto path = file_uri_path(uri.get<std::string>());
    if (path.empty())
      continue;
    if (auto dir = resolve_root(path))
      out.dirs.push_back(std::move(*dir));
  }
  if (out.dirs.empty())
    out.source = "the client lists no usable roots";
  return out;
}

} // namespace

void client_roots::set_supported(bool supported) {
  std::lock_guard<std::mutex> guard{mtx_};
  supported_ = supported;
  known_ = false;
}

void client_roots::invalidate() {
  std::lock_guard<std::mutex> guard{mtx_};
  known_ = false;
  if (!pending_.empty())
    stale_ = true;
}

bool client_roots::on_response(const json& msg) {
  auto id = msg.find("id");
  std::lock_guard<std::mutex> guard{mtx_};
  if (pending_.empty() || id == msg.end() || !id->is_string()
      || *id != pending_)
    return false;
  cached_ = roots_from(msg);
  known_ = !stale_;
  stale_ = false;
  pending_.clear();
  ++answers_;
  answered_.notify_all();
  return true;
}

std::optional<host_roots> client_roots::get(const send_fn& send, bool can_ask,
                                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  if (!supported_)
    return std::nullopt;
  if (known_)
    return cached_;
  auto seen = answers_;
  if (pending_.empty()) {
    if (!can_ask)
      return host_roots{{},
                        "the client's roots cannot be asked on this request "
                        "(over HTTP a call must accept text/event-stream)"};
    pending_ = "pyro-roots-" + std::to_string(++asked_);
    stale_ = false;
    // "jsonrpc" first: transports tell replies from other messages by
    // their first key (session.hpp), and this is a request.
    auto text
      = R"({"jsonrpc":"2.0","id":")" + pending_ + R"(","method":"roots/list"})";
    lock.unlock();
    send(text);
    lock.lock();
  }
  if (!answered_.wait_for(lock, timeout, [&] { return answers_ != seen; })) {
    pending_.clear();
    return host_roots{{}, "the client did not answer roots/list in time"};
  }
  return cached_;
}

} // namespace pyro::mcp
