#include "frontends/cli/output.hpp"

#include <iostream>
#include <string>

#include "frontends/cli/render.hpp"
#include "frontends/server/server_client.hpp"
#include "messages/json_text.hpp"

namespace pyro::cli {

int report_error(const error& err, bool as_json) {
  if (as_json)
    std::cout << dump_json(to_json(err), 2) << std::endl;
  else
    std::cerr << render_error(err);
  return info(err.code).exit_code;
}

int finish(const contract::operation& op, const nlohmann::json& args,
           const result<nlohmann::json>& out, bool as_json) {
  if (!out)
    return report_error(out.err(), as_json);
  if (as_json) {
    std::cout << dump_json(*out, 2) << std::endl;
    return 0;
  }
  std::cout << render_human(op, *out, args) << std::flush;
  return human_exit_status(op, *out);
}

void print_progress(const std::string& line) {
  std::cerr << render_progress(line) << std::flush;
}

bool forwardable(const contract::operation& op) {
  return server::server_use_from_environment() != server::server_use::off
         && !op.method.empty() && op.cli != "mcp serve" && op.cli != "demo";
}

} // namespace pyro::cli
