#include "actors/create_request.hpp"

#include <cctype>
#include <random>
#include <set>

#include "messages/sys/atomic_file.hpp"
#include "messages/workspace_record.hpp"
#include "vmm/environments/catalog.hpp"

namespace pyro {

namespace {

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c >= 0x80) {
      if ((c >> 5) == 0x6)
        extra = 1;
      else if ((c >> 4) == 0xE)
        extra = 2;
      else if ((c >> 3) == 0x1E)
        extra = 3;
      else
        return false;
    }
    if (i + extra >= s.size())
      return false;
    for (size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
        return false;
    i += extra + 1;
  }
  return true;
}

error field_error(const std::string& field, const std::string& what,
                  const std::string& hint = {}) {
  return make_error(error_code::invalid_argument, field + ": " + what, hint);
}

} // namespace

status validate_secret_name(const std::string& name) {
  bool ok
    = !name.empty() && name.size() <= 64
      && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok)
    return field_error("secret name '" + name + "'",
                       "must look like an environment variable name",
                       "use letters, digits and '_', not starting with a "
                       "digit");
  return {};
}

result<secret_value> parse_secret(const std::string& spec, bool from_file) {
  auto eq = spec.find('=');
  // The argument is not quoted back: without its NAME= it may well be the
  // value itself, and errors are printed and logged.
  if (eq == std::string::npos || eq == 0)
    return field_error(from_file ? "--secret-file" : "--secret",
                       "expected NAME="
                         + std::string{from_file ? "PATH" : "VALUE"}
                         + ", got an argument without a name before '='");
  secret_value out;
  out.name = spec.substr(0, eq);
  if (auto valid = validate_secret_name(out.name); !valid)
    return valid.err();
  if (!from_file) {
    out.value = spec.substr(eq + 1);
    out.source_kind = "literal";
  } else {
    auto path = spec.substr(eq + 1);
    auto text = sys::read_file(path);
    if (!text)
      return field_error("secret " + out.name,
                         "cannot read " + path + ": " + text.err().message);
    if (text->size() > 65536)
      return field_error("secret " + out.name, path + " exceeds 64 KiB");
    out.value = std::move(*text);
    out.source_kind = "file";
  }
  if (!valid_utf8(out.value))
    return field_error("secret " + out.name, "the value is not UTF-8 text");
  return out;
}

status validate(const create_request& r) {
  if (vmm::find_environment(r.environment) == nullptr)
    return vmm::unknown_environment(r.environment);
  if (r.vcpu_count < 1 || r.vcpu_count > 32)
    return field_error("vcpu_count",
                       "must be 1-32, got " + std::to_string(r.vcpu_count));
  if (r.mem_mib < 128 || r.mem_mib > 65536)
    return field_error("mem_mib",
                       "must be 128-65536, got " + std::to_string(r.mem_mib));
  if (r.disk_mib < 64 || r.disk_mib > 1048576)
    return field_error("disk_mib", "must be 64-1048576, got "
                                     + std::to_string(r.disk_mib));
  if (r.ttl_seconds < 0)
    return field_error("ttl_seconds", "must not be negative");
  static const std::set<std::string> policies{"off", "egress",
                                              "egress+published-ports"};
  if (policies.count(r.network_policy) == 0)
    return field_error("network_policy",
                       "unknown policy '" + r.network_policy + "'",
                       "choose off, egress or egress+published-ports");
  if (r.name.size() > 128)
    return field_error("name", "at most 128 characters");
  for (const auto& [key, value] : r.labels)
    if (auto valid = validate_label_key(key); !valid)
      return valid;
  std::set<std::string> names;
  for (const auto& s : r.secrets) {
    if (auto valid = validate_secret_name(s.name); !valid)
      return valid;
    if (!names.insert(s.name).second)
      return field_error("secrets", "'" + s.name + "' is given twice");
  }
  return {};
}

std::string random_name(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string name = prefix;
  auto bits = rng();
  for (int i = 0; i < 12; ++i, bits >>= 4)
    name += hex[bits & 0xF];
  return name;
}

std::string new_workspace_id(const std::string& kind) {
  return random_name(kind == "vm" ? "vm-" : "ws-");
}

} // namespace pyro
