#include "messages/caf_error.hpp"

#include "caf/all.hpp"

namespace pyro {

caf::error to_caf(const error& err) {
  return caf::make_error(err.code, err.message, err.hint);
}

error from_caf(const caf::error& err) {
  if (!err)
    return make_error(error_code::internal, "no error");
  if (err.category() == caf::atom("pyro")) {
    error out;
    out.code = static_cast<error_code>(err.code());
    if (err.context().match_elements<std::string, std::string>()) {
      out.message = err.context().get_as<std::string>(0);
      out.hint = err.context().get_as<std::string>(1);
    } else if (err.context().match_elements<std::string>()) {
      out.message = err.context().get_as<std::string>(0);
    }
    return out;
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(err.code())) {
    case caf::sec::request_timeout:
      return make_error(error_code::deadline_exceeded,
                        "the request did not finish in time",
                        "retry with a longer timeout");
    case caf::sec::request_receiver_down:
    case caf::sec::cannot_forward_to_invalid_actor:
      return make_error(error_code::unavailable,
                        "the actor serving the request went away",
                        "retry: the next request restarts it");
    case caf::sec::unexpected_message:
      return make_error(error_code::internal,
                        "an actor received a message it does not handle");
    default:
      break;
    }
  }
  return make_error(error_code::internal, caf::to_string(err));
}

} // namespace pyro
