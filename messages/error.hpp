#pragma once

#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json_fwd.hpp>

#include "messages/error_code.hpp"

namespace pyro {

/// A failure a user can see: what went wrong and, where possible, what to do.
struct error {
  error_code code = error_code::internal;
  std::string message;
  std::string hint;
};

/// `{"error": {"code", "message", "hint"}}`, the one JSON form of an error.
nlohmann::json to_json(const error& err);

/// Reads the form written by `to_json`; a malformed object becomes an
/// internal error that quotes it.
error error_from_json(const nlohmann::json& j);

/// "not_found: workspace 'x' does not exist (hint: ...)".
std::string to_string(const error& err);

inline error make_error(error_code code, std::string message,
                        std::string hint = {}) {
  return error{code, std::move(message), std::move(hint)};
}

/// A value or the error that prevented it.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::move(value)) {
    // nop
  }

  result(error err) : data_(std::move(err)) {
    // nop
  }

  explicit operator bool() const noexcept {
    return data_.index() == 0;
  }

  T& operator*() & {
    return std::get<0>(data_);
  }

  const T& operator*() const& {
    return std::get<0>(data_);
  }

  T&& operator*() && {
    return std::get<0>(std::move(data_));
  }

  T* operator->() {
    return &std::get<0>(data_);
  }

  const T* operator->() const {
    return &std::get<0>(data_);
  }

  const error& err() const {
    return std::get<1>(data_);
  }

private:
  std::variant<T, error> data_;
};

/// Success or the error that prevented it.
class [[nodiscard]] status {
public:
  status() = default;

  status(error err) : err_(std::move(err)), failed_(true) {
    // nop
  }

  explicit operator bool() const noexcept {
    return !failed_;
  }

  const error& err() const {
    return err_;
  }

private:
  error err_;
  bool failed_ = false;
};

} // namespace pyro
