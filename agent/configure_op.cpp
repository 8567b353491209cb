// `configure`: what a guest restored from a memory snapshot must not keep
// from the moment the snapshot was taken. Every workspace restored from one
// snapshot starts with the same hostname, a clock stopped at that moment,
// and the same kernel random state, so the host hands each its own.

#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent/ops.hpp"

namespace pyro::agent {

using nlohmann::json;

namespace {

status mix_entropy(const std::string& hex) {
  if (hex.size() % 2 != 0 || hex.size() > 1024)
    return make_error(error_code::invalid_argument,
                      "entropy must be at most 512 bytes in hex");
  std::string bytes;
  for (size_t i = 0; i < hex.size(); i += 2)
    bytes.push_back(
      static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  int fd = ::open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(error_code::unavailable, "cannot open /dev/urandom");
  // Credited, so the pool counts as reseeded; a plain write only mixes.
  std::string request(sizeof(rand_pool_info) + bytes.size(), '\0');
  auto* info = reinterpret_cast<rand_pool_info*>(request.data());
  info->entropy_count = static_cast<int>(bytes.size() * 8);
  info->buf_size = static_cast<int>(bytes.size());
  std::memcpy(info->buf, bytes.data(), bytes.size());
  if (::ioctl(fd, RNDADDENTROPY, info) != 0
      && ::write(fd, bytes.data(), bytes.size()) < 0) {
    ::close(fd);
    return make_error(error_code::unavailable, "cannot reseed /dev/urandom");
  }
  ::close(fd);
  return {};
}

} // namespace

status op_configure(const agent_context& ctx, const json& req,
                    connection& conn) {
  if (ctx.mode != "vm")
    return make_error(error_code::failed_precondition,
                      "configure is for VM guests only");
  json done = json::object();
  if (auto name = req.find("hostname"); name != req.end()) {
    auto value = name->get<std::string>();
    if (value.empty() || value.size() > 64
        || ::sethostname(value.data(), value.size()) != 0)
      return make_error(error_code::invalid_argument,
                        "cannot set the hostname to '" + value + "'");
    done["hostname"] = value;
  }
  if (auto ns = req.find("unix_time_ns"); ns != req.end()) {
    auto value = ns->get<int64_t>();
    timespec ts{static_cast<time_t>(value / 1000000000),
                static_cast<long>(value % 1000000000)};
    if (::clock_settime(CLOCK_REALTIME, &ts) != 0)
      return make_error(error_code::unavailable, "cannot set the clock");
    done["clock"] = true;
  }
  if (auto hex = req.find("entropy_hex"); hex != req.end()) {
    if (auto mixed = mix_entropy(hex->get<std::string>()); !mixed)
      return mixed;
    done["entropy"] = true;
  }
  return conn.reply(done);
}

} // namespace pyro::agent
