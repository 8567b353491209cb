#include "messages/error.hpp"

#include <nlohmann/json.hpp>

#include "messages/json_text.hpp"

namespace pyro {

nlohmann::json to_json(const error& err) {
  nlohmann::json body{{"code", to_string(err.code)}, {"message", err.message}};
  body["hint"]
    = err.hint.empty() ? nlohmann::json(nullptr) : nlohmann::json(err.hint);
  return nlohmann::json{{"error", std::move(body)}};
}

error error_from_json(const nlohmann::json& j) {
  const auto* body = &j;
  if (j.is_object() && j.contains("error"))
    body = &j.at("error");
  if (!body->is_object() || !body->contains("code"))
    return make_error(error_code::internal,
                      "malformed error object: " + dump_json(j));
  auto text = [&](const char* key) {
    auto i = body->find(key);
    return i != body->end() && i->is_string() ? i->get<std::string>()
                                              : std::string{};
  };
  auto code = parse_error_code(text("code"));
  error err;
  err.code = code.value_or(error_code::internal);
  err.message = text("message");
  if (auto i = body->find("hint"); i != body->end() && i->is_string())
    err.hint = i->get<std::string>();
  return err;
}

std::string to_string(const error& err) {
  std::string out{to_string(err.code)};
  out += ": ";
  out += err.message;
  if (!err.hint.empty()) {
    out += " (hint: ";
    out += err.hint;
    out += ')';
  }
  return out;
}

} // namespace pyro
