#pragma once

// Secret values must never leave the runtime, whatever an operation
// returns: file contents, diffs, paths, names, command output or an error
// that quotes an argument. Rather than each operation redacting the fields
// it knows of (and a new one forgetting), every reply and every error
// passes through `redact` where it leaves an actor (the workspace actor,
// the guest worker, the registry's list). `redact` walks a reply through
// the same `inspect` overloads CAF uses to serialise it, so every string
// field of every reply type is covered, nested ones included; a field of a
// type it cannot walk is a compile error, not a silent gap.
//
// Redaction is byte-wise: a value's exact bytes are replaced by
// "[REDACTED:NAME]" wherever they occur, text or binary, so a binary file
// read through pyro that contains a secret comes back altered (and longer
// or shorter). A truncated content field also loses a tail that could be
// the start of a secret, so that choosing the cut cannot reveal a prefix.

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/secret_store.hpp"
#include "messages/error.hpp"
#include "messages/workspace_record.hpp"
#include "messages/workspace_requests.hpp"
#include "messages/workspace_results.hpp"

namespace pyro {

class redacting_inspector;

namespace detail {

template <class T, class = void>
struct has_inspect : std::false_type {};

template <class T>
struct has_inspect<
  T, std::void_t<decltype(inspect(std::declval<redacting_inspector&>(),
                                  std::declval<T&>()))>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};

template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_map : std::false_type {};

template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};

template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

} // namespace detail

/// A CAF-style inspector that rewrites every string it is shown.
class redacting_inspector {
public:
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = true;

  explicit redacting_inspector(const redactor& values) : values_(values) {
    // nop
  }

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (visit(xs), ...);
  }

private:
  template <class T>
  void visit(T& x) {
    using type = std::remove_const_t<T>;
    if constexpr (std::is_arithmetic_v<type> || std::is_enum_v<type>) {
      // nop: numbers carry no text
    } else if constexpr (std::is_same_v<type, std::string>) {
      x = values_.apply(std::move(x));
    } else if constexpr (detail::is_vector<type>::value) {
      for (auto& item : x)
        visit(item);
    } else if constexpr (detail::is_optional<type>::value) {
      if (x)
        visit(*x);
    } else if constexpr (detail::is_map<type>::value) {
      type out;
      for (auto& [key, value] : x) {
        auto k = key;
        visit(k);
        auto v = std::move(value);
        visit(v);
        out.emplace(std::move(k), std::move(v));
      }
      x = std::move(out);
    } else {
      static_assert(detail::has_inspect<type>::value,
                    "redact() cannot walk this type: give it an inspect() "
                    "overload or a visit() case here");
      before(x);
      inspect(*this, x);
    }
  }

  // Truncated output loses a tail that could begin a secret.
  template <class T>
  void before(T&) {
    // nop
  }

  void before(file_read_result& x);
  void before(exec_outcome& x);
  void before(journal_entry& x);

  void visit(error& x);
  void visit(nlohmann::json& x);

  const redactor& values_;
};

/// Redacts a reply in place: every string reachable through its fields.
template <class T>
void redact(const redactor& values, T& reply) {
  if (values.empty())
    return;
  redacting_inspector f{values};
  f(reply);
}

/// Redacts a JSON reply (the guest worker's): every string, keys included;
/// an object with `"truncated": true` loses the unsafe tail of its
/// `content`, `stdout` and `stderr`.
void redact(const redactor& values, nlohmann::json& reply);

/// Redacts an error's message and hint.
void redact(const redactor& values, error& err);

/// Redacts each row of `workspace list` with its own workspace's secrets; a
/// row whose private store cannot be read is reduced to its id and why.
void redact(const state_store& store, std::vector<workspace_entry>& rows);

/// A workspace's redactor, and whether it can be kept: secrets never change
/// after create, so once the record exists and the private store holds a
/// value for every secret it names, the redactor is final.
struct workspace_redactor {
  redactor values;
  bool final = false;
};

/// Loads a workspace's redactor from its private store; it is final when
/// the record can be read and every secret it names has a value. A
/// workspace that does not exist (yet, or any more) gets an empty one that
/// is not final.
result<workspace_redactor> load_redactor(const state_store& store,
                                         const std::string& id);

} // namespace pyro
