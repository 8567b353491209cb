// _pyro_mcp: the native half of the Python SDK. It exposes the contract
// table and one generic call through the SDK's dispatch, so every SDK
// method exists in Python without per-method C++; pyro_mcp/__init__.py
// builds the Pythonic surface (signatures, defaults, exceptions) from it.
// The GIL is released for every call into the runtime.

#include <memory>
#include <string>
#include <utility>

#include <pybind11/pybind11.h>

#include "frontends/contract/contract.hpp"
#include "frontends/mcp/serve.hpp"
#include "frontends/mcp/tool_schema.hpp"
#include "frontends/sdk/dispatch.hpp"
#include "frontends/sdk/pyro.hpp"
#include "messages/error_code.hpp"
#include "messages/json_text.hpp"

namespace py = pybind11;
using nlohmann::json;

namespace {

const char* type_name(pyro::contract::value_type t) {
  using vt = pyro::contract::value_type;
  switch (t) {
  case vt::string:
    return "string";
  case vt::integer:
    return "integer";
  case vt::boolean:
    return "boolean";
  case vt::command:
    return "command";
  case vt::string_list:
    return "string_list";
  case vt::string_map:
    return "string_map";
  case vt::json:
    return "json";
  }
  return "string";
}

std::string operations_json() {
  json ops = json::array();
  for (const auto& op : pyro::contract::operations()) {
    if (op.method.empty())
      continue;
    json params = json::array();
    for (const auto& p : op.params)
      params.push_back(
        {{"name", std::string{p.name}},
         {"type", type_name(p.type)},
         {"default",
          p.default_json.empty() ? json(nullptr) : json::parse(p.default_json)},
         {"has_default", !p.default_json.empty()},
         {"required", p.required},
         {"positional", p.positional},
         {"cli_only", p.cli_only},
         {"description", std::string{p.description}}});
    ops.push_back({{"method", std::string{op.method}},
                   {"tool", std::string{op.tool}},
                   {"summary", std::string{op.summary}},
                   {"profiles", op.profiles},
                   {"params", std::move(params)}});
  }
  return pyro::dump_json(ops);
}

std::string error_table_json() {
  json rows = json::array();
  for (const auto& row : pyro::error_table())
    rows.push_back({{"code", std::string{row.name}},
                    {"exception", std::string{row.exception_name}}});
  return pyro::dump_json(rows);
}

// One SDK instance; calls are thread-safe, so Python threads may share it.
class core {
public:
  core(const std::string& home, double timeout_seconds) {
    pyro::pyro_options options;
    options.home = home;
    options.timeout
      = std::chrono::milliseconds{static_cast<int64_t>(timeout_seconds * 1000)};
    sdk_ = std::make_unique<pyro::Pyro>(options);
  }

  // (true, result JSON) or (false, error JSON {code, message, hint}).
  std::pair<bool, std::string> call(const std::string& method,
                                    const std::string& args_text) {
    std::pair<bool, std::string> out;
    {
      py::gil_scoped_release unlocked;
      const auto* op = pyro::contract::find_method(method);
      auto args = json::parse(args_text, nullptr, false);
      if (op == nullptr || !args.is_object()) {
        out = {false, pyro::dump_json(pyro::to_json(
                        pyro::make_error(pyro::error_code::invalid_argument,
                                         "no SDK method '" + method + "'")))};
      } else {
        try {
          auto r = pyro::dispatch(*sdk_, *op, args);
          out = r ? std::make_pair(true, pyro::dump_json(*r))
                  : std::make_pair(false,
                                   pyro::dump_json(pyro::to_json(r.err())));
        } catch (const json::exception& e) {
          out = {false, pyro::dump_json(pyro::to_json(
                          pyro::make_error(pyro::error_code::invalid_argument,
                                           std::string{"bad arguments for "}
                                             + method + ": " + e.what())))};
        }
      }
    }
    return out;
  }

  // Serves MCP until stdin closes (stdio) or the process ends (http).
  int serve(const std::string& profile, const std::string& transport,
            const std::string& host, int port) {
    auto p = pyro::mcp::parse_profile(profile);
    if (!p)
      throw py::value_error("unknown profile '" + profile + "'");
    py::gil_scoped_release unlocked;
    if (transport == "stdio")
      return pyro::mcp::serve_stdio(*sdk_, *p);
    pyro::mcp::http_options options;
    options.host = host;
    options.port = port;
    return pyro::mcp::serve_http(*sdk_, *p, options);
  }

private:
  std::unique_ptr<pyro::Pyro> sdk_;
};

} // namespace

PYBIND11_MODULE(_pyro_mcp, m) {
  m.doc() = "native core of the pyro Python SDK";
  m.def("operations", &operations_json,
        "The contract's SDK operations as JSON.");
  m.def("error_table", &error_table_json,
        "Error codes and their exception names as JSON.");
  py::class_<core>(m, "Core")
    .def(py::init<const std::string&, double>(), py::arg("home"),
         py::arg("timeout_seconds"))
    .def("call", &core::call, py::arg("method"), py::arg("args_json"))
    .def("serve", &core::serve, py::arg("profile"), py::arg("transport"),
         py::arg("host"), py::arg("port"));
}
