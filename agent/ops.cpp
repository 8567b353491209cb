#include "agent/ops.hpp"

#include "messages/wire/byte_names.hpp"

#include <cstring>
#include <map>

#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent/process_table.hpp"
#include "agent/services.hpp"
#include "agent/shells.hpp"
#include "agent/version.hpp"

namespace pyro::agent {

using nlohmann::json;

result<std::string> string_field(const json& req, const char* key) {
  auto i = req.find(key);
  if (i == req.end() || !i->is_string())
    return make_error(error_code::invalid_argument,
                      std::string{"the request needs a string '"} + key + "'");
  return wire::get_bytes(req, key); // a name that is not UTF-8 comes as hex
}

status op_hello(const agent_context& ctx, const json&, connection& conn) {
  json ops = json::array();
  for (const auto& entry : operations())
    ops.push_back(entry.first);
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
  if (ctx.mode == "vm" && ::getpid() == 1) {
    // Nothing may touch the disk once power-off starts; a read-only root
    // makes that so, and needs no process holding a file open for writing.
    process_table::kill_all_groups();
    ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY, nullptr);
    ::sync();
    ::reboot(RB_POWER_OFF);
  }
  ::_exit(0);
  return replied;
}

const std::map<std::string, handler>& operations() {
  static const std::map<std::string, handler> table{
    {"hello", op_hello},
    {"configure", op_configure},
    {"exec", op_exec},
    {"exec_cancel", op_exec_cancel},
    {"stat", op_stat},
    {"list", op_list},
    {"read", op_read},
    {"write", op_write},
    {"delete", op_delete},
    {"manifest", op_manifest},
    {"import", op_import},
    {"export", op_export},
    {"shutdown", op_shutdown},
    {"secrets_put", op_secrets_put},
    {"shell_open", op_shell_open},
    {"shell_write", op_shell_write},
    {"shell_read", op_shell_read},
    {"shell_resize", op_shell_resize},
    {"shell_signal", op_shell_signal},
    {"shell_close", op_shell_close},
    {"shell_list", op_shell_list},
    {"service_start", op_service_start},
    {"service_status", op_service_status},
    {"service_list", op_service_list},
    {"service_logs", op_service_logs},
    {"service_stop", op_service_stop},
    {"service_wait", op_service_wait},
  };
  return table;
}

handler find_handler(const std::string& op) {
  auto i = operations().find(op);
  return i == operations().end() ? nullptr : i->second;
}

} // namespace pyro::agent
