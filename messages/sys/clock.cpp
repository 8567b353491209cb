#include "messages/sys/clock.hpp"

#include <chrono>
#include <ctime>

namespace pyro::sys {

double unix_now() {
  using namespace std::chrono;
  auto now = system_clock::now().time_since_epoch();
  return duration_cast<duration<double>>(now).count();
}

std::string format_utc(double unix_seconds) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

} // namespace pyro::sys
