#include "frontends/mcp/http_request.hpp"

#include <algorithm>

namespace pyro::mcp::http {

namespace {

constexpr size_t chunk_line_limit = 1024;

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9'))
    return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Field values: visible ASCII, space, tab and bytes >= 0x80 (obs-text).
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(),
                       [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The request line and headers (without the blank line that ends them).
// 0, or the status to refuse them with.
int parse_head(std::string_view head, request& req, const limits& lim) {
  auto line_end = head.find("\r\n");
  auto line = head.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return 400;
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()
      || !std::all_of(target.begin(), target.end(),
                      [](char c) { return c > 0x20 && c < 0x7f; }))
    return 400;
  if (version == "HTTP/1.1")
    req.http11 = true;
  else if (version == "HTTP/1.0")
    req.http11 = false;
  else if (version.size() == 8 && version.substr(0, 5) == "HTTP/")
    return 505;
  else
    return 400;
  req.method = std::string{method};
  req.path = std::string{target.substr(0, target.find_first_of("?#"))};
  while (line_end != std::string_view::npos) {
    auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    line = head.substr(start, line_end == std::string_view::npos
                                ? std::string_view::npos
                                : line_end - start);
    // No whitespace before the colon and no folded continuation lines:
    // both are ways to make two parsers disagree about a header.
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
      return 400;
    auto value = line.substr(colon + 1);
    if (!is_field_value(value))
      return 400;
    if (req.headers.size() >= lim.header_count)
      return 431;
    std::string name{line.substr(0, colon)};
    std::transform(name.begin(), name.end(), name.begin(), lower);
    req.headers.emplace_back(std::move(name), std::string{trim(value)});
  }
  return 0;
}

} // namespace

const std::string* request::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name)
      return &value;
  return nullptr;
}

std::string request::header_value(std::string_view name) const {
  const auto* value = header(name);
  return value ? *value : std::string{};
}

bool request::keep_alive() const {
  if (!http11)
    return false;
  for (const auto& [key, value] : headers) {
    if (key != "connection")
      continue;
    std::string_view rest{value};
    while (!rest.empty()) {
      auto comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), "close"))
        return false;
      rest = comma == std::string_view::npos ? std::string_view{}
                                             : rest.substr(comma + 1);
    }
  }
  return true;
}

bool request::expects_continue() const {
  const auto* expect = header("expect");
  return http11 && expect != nullptr && iequals(*expect, "100-continue");
}

request_reader::request_reader(limits lim) : lim_(lim) {
  // nop
}

bool request_reader::in_body() const {
  return at_ != phase::head;
}

bool request_reader::started() const {
  return started_;
}

void request_reader::reset() {
  at_ = phase::head;
  req_ = request{};
  scanned_ = 0;
  length_ = 0;
  chunk_left_ = 0;
  trailer_bytes_ = 0;
  started_ = false;
  error_ = 0;
}

request_reader::progress request_reader::fail(int status) {
  error_ = status;
  return progress::error;
}

request_reader::progress request_reader::parse(std::string& in) {
  if (error_ != 0)
    return progress::error;
  if (at_ == phase::head) {
    // Empty lines before a request line are to be ignored (RFC 9112 2.2);
    // some clients send one after a body.
    if (!started_) {
      size_t blank = 0;
      while (in.compare(blank, 2, "\r\n") == 0)
        blank += 2;
      in.erase(0, blank);
    }
    started_ = !in.empty();
    auto end = in.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
    if (end == std::string::npos) {
      scanned_ = in.size();
      return in.size() > lim_.head_bytes ? fail(431) : progress::more;
    }
    if (end + 4 > lim_.head_bytes)
      return fail(431);
    if (int status
        = parse_head(std::string_view{in}.substr(0, end), req_, lim_);
        status != 0)
      return fail(status);
    in.erase(0, end + 4);
    const std::string* coding = nullptr;
    const std::string* length = nullptr;
    for (const auto& [key, value] : req_.headers) {
      if (key == "transfer-encoding") {
        if (coding != nullptr)
          return fail(400);
        coding = &value;
      } else if (key == "content-length") {
        bool digits = !value.empty() && value.size() <= 18
                      && std::all_of(value.begin(), value.end(), [](char c) {
                           return c >= '0' && c <= '9';
                         });
        if (!digits || (length != nullptr && *length != value))
          return fail(400);
        length = &value;
      }
    }
    if (coding != nullptr) {
      if (length != nullptr)
        return fail(400);
      if (!iequals(*coding, "chunked"))
        return fail(501);
      at_ = phase::chunk_size;
      return parse_chunked(in);
    }
    length_ = length != nullptr ? std::stoull(*length) : 0;
    if (length_ > lim_.body_bytes)
      return fail(413);
    if (length_ == 0)
      return progress::done;
    at_ = phase::body;
    req_.body.reserve(length_);
  }
  if (at_ == phase::body) {
    auto take = std::min(in.size(), length_ - req_.body.size());
    req_.body.append(in, 0, take);
    in.erase(0, take);
    return req_.body.size() == length_ ? progress::done : progress::more;
  }
  return parse_chunked(in);
}

request_reader::progress request_reader::parse_chunked(std::string& in) {
  size_t pos = 0;
  auto consumed = [&](progress p) {
    in.erase(0, pos);
    return p;
  };
  for (;;) {
    if (at_ == phase::chunk_data) {
      auto take = std::min(in.size() - pos, chunk_left_);
      req_.body.append(in, pos, take);
      pos += take;
      chunk_left_ -= take;
      if (chunk_left_ > 0)
        return consumed(progress::more);
      at_ = phase::chunk_end;
    }
    if (at_ == phase::chunk_end) {
      if (in.size() - pos < 2)
        return consumed(progress::more);
      if (in.compare(pos, 2, "\r\n") != 0)
        return fail(400);
      pos += 2;
      at_ = phase::chunk_size;
    }
    auto eol = in.find("\r\n", pos);
    if (eol == std::string::npos) {
      auto pending = in.size() - pos;
      if (at_ == phase::chunk_size && pending > chunk_line_limit)
        return fail(400);
      if (at_ == phase::trailers && trailer_bytes_ + pending > lim_.head_bytes)
        return fail(431);
      return consumed(progress::more);
    }
    std::string_view line{in.data() + pos, eol - pos};
    pos = eol + 2;
    if (at_ == phase::trailers) {
      if (line.empty())
        return consumed(progress::done);
      trailer_bytes_ += line.size() + 2;
      if (trailer_bytes_ > lim_.head_bytes)
        return fail(431);
      if (line.find(':') == std::string_view::npos || !is_field_value(line))
        return fail(400);
      continue;
    }
    // chunk-size [ chunk-ext ]: the extensions mean nothing to us.
    auto digits = line.substr(0, line.find_first_of(" \t;"));
    auto ext = trim(line.substr(digits.size()));
    if (digits.empty() || digits.size() > 15
        || digits.find_first_not_of("0123456789abcdefABCDEF")
             != std::string_view::npos
        || (!ext.empty() && (ext.front() != ';' || !is_field_value(ext))))
      return fail(400);
    size_t size = std::stoull(std::string{digits}, nullptr, 16);
    if (size == 0) {
      at_ = phase::trailers;
      continue;
    }
    if (req_.body.size() + size > lim_.body_bytes)
      return fail(413);
    chunk_left_ = size;
    at_ = phase::chunk_data;
  }
}

const char* reason_phrase(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 202:
    return "Accepted";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "";
  }
}

} // namespace pyro::mcp::http
