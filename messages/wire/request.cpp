#include "messages/wire/request.hpp"

namespace pyro::wire {

result<request_header> parse_request(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object())
    return make_error(error_code::invalid_argument,
                      "the request is not a JSON object");
  request_header out;
  auto op = j.find("op");
  if (op == j.end() || !op->is_string())
    return make_error(error_code::invalid_argument,
                      "the request needs a string 'op'");
  out.op = op->get<std::string>();
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_number_integer())
      return make_error(error_code::invalid_argument,
                        "the request's 'id' must be an integer");
    out.id = id->get<int64_t>();
  }
  if (auto up = j.find("upload"); up != j.end()) {
    if (!up->is_boolean())
      return make_error(error_code::invalid_argument,
                        "the request's 'upload' must be true or false");
    out.upload = up->get<bool>();
  }
  out.body = std::move(j);
  return out;
}

} // namespace pyro::wire
