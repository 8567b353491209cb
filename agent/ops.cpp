#include "agent/ops.hpp"

#include <cstring>
#include <unordered_map>

#include <sys/reboot.h>
#include <unistd.h>

#include "agent/version.hpp"

namespace pyro::agent {

using nlohmann::json;

result<std::string> string_field(const json& req, const char* key) {
  auto i = req.find(key);
  if (i == req.end() || !i->is_string())
    return make_error(error_code::invalid_argument,
                      std::string{"the request needs a string '"} + key + "'");
  return i->get<std::string>();
}

status op_hello(const agent_context& ctx, const json&, connection& conn) {
  json ops = json::array();
  for (const char* name :
       {"hello", "exec", "stat", "list", "read", "write", "delete", "manifest",
        "import", "export", "shutdown"})
    ops.push_back(name);
  return conn.reply(json{{"agent", "pyro-agent"},
                         {"version", std::string{agent_version}},
                         {"protocol", protocol_version},
                         {"mode", ctx.mode},
                         {"pid", ::getpid()},
                         {"operations", std::move(ops)}});
}

status op_shutdown(const agent_context& ctx, const json&, connection& conn) {
  ::sync();
  auto replied = conn.reply(json{{"shutting_down", true}});
  if (ctx.mode == "vm" && ::getpid() == 1)
    ::reboot(RB_POWER_OFF);
  ::_exit(0);
  return replied;
}

handler find_handler(const std::string& op) {
  static const std::unordered_map<std::string, handler> table{
    {"hello", op_hello},   {"exec", op_exec},         {"stat", op_stat},
    {"list", op_list},     {"read", op_read},         {"write", op_write},
    {"delete", op_delete}, {"manifest", op_manifest}, {"import", op_import},
    {"export", op_export}, {"shutdown", op_shutdown},
  };
  auto i = table.find(op);
  return i == table.end() ? nullptr : i->second;
}

} // namespace pyro::agent
