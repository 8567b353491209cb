#pragma once

#include <string>

namespace pyro::sys {

/// Seconds since the Unix epoch, with sub-second precision, as the records
/// store them.
double unix_now();

/// RFC 3339 UTC form of a Unix time, for people: "2026-11-22T11:16:06Z".
std::string format_utc(double unix_seconds);

} // namespace pyro::sys
