#include "vmm/process_identity.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace pyro::vmm {

namespace {

// Fields after the command name, which may itself hold spaces and ')'.
bool stat_fields(pid_t pid, char& state, unsigned long long& start_time) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return false;
  std::istringstream fields{text.substr(close + 2)};
  fields >> state;
  std::string skip;
  for (int i = 0; i < 18; ++i) // fields 4..21
    fields >> skip;
  fields >> start_time;
  return static_cast<bool>(fields);
}

} // namespace

process_identity identity_of(pid_t pid) {
  char state = 0;
  unsigned long long start = 0;
  if (!stat_fields(pid, state, start) || state == 'Z' || state == 'X')
    return {pid, 0};
  return {pid, start};
}

nlohmann::json process_identity_of(pid_t pid) {
  auto id = identity_of(pid);
  return nlohmann::json{{"pid", id.pid}, {"start_time", id.start_time}};
}

bool alive(const process_identity& id) {
  if (id.pid <= 0 || id.start_time == 0)
    return false;
  auto now = identity_of(id.pid);
  return now.start_time == id.start_time;
}

bool stopped(const process_identity& id) {
  char state = 0;
  unsigned long long start = 0;
  return id.pid > 0 && stat_fields(id.pid, state, start)
         && start == id.start_time && (state == 'T' || state == 't');
}

process_identity process_identity_from_json(const nlohmann::json& j) {
  process_identity id;
  if (j.is_object()) {
    id.pid = j.value("pid", 0);
    id.start_time = j.value("start_time", 0ull);
  }
  return id;
}

} // namespace pyro::vmm
