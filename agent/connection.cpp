#include "agent/connection.hpp"

#include "messages/wire/frame.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

// Uploads must keep moving; a client that stalls is dropped.
constexpr int upload_timeout_ms = 60000;
// Streams are sent in chunks of this size.
constexpr size_t stream_chunk = 256 * 1024;

std::string text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

result<std::string> connection::next_upload_chunk() {
  if (!upload_open_)
    return std::string{};
  auto f = wire::read_frame(fd_, upload_timeout_ms);
  if (!f)
    return f.err();
  if (f->kind == wire::frame_kind::end) {
    upload_open_ = false;
    return std::string{};
  }
  if (f->kind != wire::frame_kind::data)
    return make_error(error_code::invalid_argument,
                      "expected upload data, got a header frame");
  if (f->body.empty())
    return make_error(error_code::invalid_argument,
                      "empty data frames are not allowed");
  return std::move(f->body);
}

status connection::drain_upload() {
  while (upload_open_) {
    auto chunk = next_upload_chunk();
    if (!chunk)
      return chunk.err();
  }
  return {};
}

status connection::reply(const json& result) {
  replied_ = true;
  return wire::write_frame(
    fd_, wire::frame_kind::header,
    text(json{{"id", id_}, {"ok", true}, {"result", result}}));
}

status connection::begin_stream(const json& result) {
  replied_ = true;
  streaming_ = true;
  return wire::write_frame(
    fd_, wire::frame_kind::header,
    text(
      json{{"id", id_}, {"ok", true}, {"stream", true}, {"result", result}}));
}

status connection::send(std::string_view bytes) {
  pending_.append(bytes);
  if (pending_.size() >= stream_chunk)
    return flush();
  return {};
}

status connection::flush() {
  for (size_t off = 0; off < pending_.size(); off += wire::max_chunk_bytes) {
    auto piece = std::string_view{pending_}.substr(off, wire::max_chunk_bytes);
    if (auto sent = wire::write_frame(fd_, wire::frame_kind::data, piece);
        !sent)
      return sent;
  }
  pending_.clear();
  return {};
}

status connection::end_stream() {
  if (auto flushed = flush(); !flushed)
    return flushed;
  streaming_ = false;
  return wire::write_frame(fd_, wire::frame_kind::end, {});
}

status connection::reply_error(const error& err) {
  // Mid-stream, a header frame tells the client the stream failed.
  pending_.clear();
  replied_ = true;
  streaming_ = false;
  auto body = to_json(err);
  body["id"] = id_;
  body["ok"] = false;
  return wire::write_frame(fd_, wire::frame_kind::header, text(body));
}

} // namespace pyro::agent
