#pragma once

#include <string>

#include "messages/sys/clock.hpp"
#include "messages/workspace_record.hpp"

namespace pyro::test {

/// A plausible record, as `workspace create` would write it.
inline workspace_record sample_record(const std::string& id) {
  workspace_record r;
  r.workspace_id = id;
  r.name = "sample " + id;
  r.labels = {{"issue", "123"}};
  r.environment = "debian:12";
  r.created_at = sys::unix_now();
  r.last_activity_at = r.created_at;
  r.expires_at = r.created_at + static_cast<double>(r.ttl_seconds);
  r.backend = "sandbox";
  r.execution_mode = "sandbox";
  return r;
}

} // namespace pyro::test
