// libFuzzer target for what the agent parses from untrusted peers: frames,
// request headers and tar streams. Built with clang by run_wire_fuzz and
// run for a bounded time by the test suite.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "messages/wire/frame.hpp"
#include "messages/wire/request.hpp"
#include "messages/wire/tar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  // Frames, one after another, as the agent's read loop sees them.
  size_t offset = 0;
  while (offset < input.size()) {
    size_t used = 0;
    auto f = pyro::wire::decode_frame(input.substr(offset), used);
    if (!f)
      break;
    if (f->kind == pyro::wire::frame_kind::header)
      static_cast<void>(pyro::wire::parse_request(f->body));
    offset += used;
  }
  // The same bytes as a tar stream.
  size_t pos = 0;
  pyro::wire::tar_reader reader{
    [&](char* buf, size_t n) -> pyro::result<size_t> {
      auto take = std::min(n, input.size() - pos);
      std::copy_n(input.data() + pos, take, buf);
      pos += take;
      return take;
    }};
  char buf[4096];
  for (int members = 0; members < 1000; ++members) {
    auto m = reader.next();
    if (!m || !*m)
      break;
    for (;;) {
      auto n = reader.read(buf, sizeof(buf));
      if (!n || *n == 0)
        break;
    }
  }
  return 0;
}
