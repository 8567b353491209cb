// libFuzzer target for the MCP HTTP transport's request reader and its
// Host/Origin/token admission: the bytes a hostile client writes to the
// socket, split into reads at sizes the input chooses (the reader must
// come to the same end whatever the split). Built with clang by
// run_mcp_fuzz and run for a bounded time by the test suite.

#include <cstddef>
#include <cstdint>
#include <string>

#include "frontends/mcp/http_admission.hpp"
#include "frontends/mcp/http_request.hpp"

using namespace pyro::mcp::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  // The first byte sets the read size (1-256 bytes), the rest is the
  // stream.
  size_t step = static_cast<size_t>(data[0]) + 1;
  std::string stream{reinterpret_cast<const char*>(data + 1), size - 1};
  static const auto allowed = allowed_authorities("127.0.0.1", 8765);
  limits lim;
  lim.head_bytes = 4096;
  lim.header_count = 32;
  lim.body_bytes = 16384;
  request_reader reader{lim};
  std::string in;
  size_t pos = 0;
  for (int requests = 0; requests < 64;) {
    if (pos < stream.size()) {
      in.append(stream, pos, step);
      pos += step;
    }
    auto p = reader.parse(in);
    if (p == request_reader::progress::error) {
      auto status = reader.error_status();
      if (status < 400 || status > 505 || reason_phrase(status)[0] == '\0')
        __builtin_trap();
      break;
    }
    if (p == request_reader::progress::more) {
      if (pos >= stream.size())
        break;
      continue;
    }
    const auto& req = reader.current();
    if (req.body.size() > lim.body_bytes)
      __builtin_trap();
    auto admitted = check_host_and_origin(req, allowed);
    if (admitted.status != 0 && admitted.message.empty())
      __builtin_trap();
    static_cast<void>(check_bearer(req, "token"));
    static_cast<void>(req.keep_alive());
    static_cast<void>(req.expects_continue());
    reader.reset();
    ++requests;
  }
  return 0;
}
