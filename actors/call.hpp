#pragma once

// The one way a frontend talks to an actor: a request with an explicit
// timeout whose failure, including the timeout itself, becomes a pyro error.

#include <chrono>
#include <utility>

#include "caf/all.hpp"

#include "messages/caf_error.hpp"

namespace pyro {

/// A request in flight; `await` blocks the calling thread for the reply.
template <class T, class Handle>
class pending_call {
public:
  explicit pending_call(Handle handle) : handle_(std::move(handle)) {
    // nop
  }

  result<T> await() {
    std::optional<result<T>> out;
    handle_.receive([&](T& value) { out.emplace(std::move(value)); },
                    [&](caf::error& err) { out.emplace(from_caf(err)); });
    return std::move(*out);
  }

private:
  Handle handle_;
};

/// Sends the request now; split from `await` so deterministic tests can run
/// the scheduler (or fire timeouts) in between.
template <class T, class Dest, class... Ts>
auto start_call(caf::scoped_actor& self, const Dest& dest,
                std::chrono::milliseconds timeout, Ts&&... xs) {
  auto handle = self->request(dest, timeout, std::forward<Ts>(xs)...);
  return pending_call<T, decltype(handle)>{std::move(handle)};
}

/// Calls `dest` and waits at most `timeout` for a reply of type T.
template <class T, class Dest, class... Ts>
result<T> call(caf::scoped_actor& self, const Dest& dest,
               std::chrono::milliseconds timeout, Ts&&... xs) {
  if (!dest)
    return make_error(error_code::unavailable, "the actor is not running");
  return start_call<T>(self, dest, timeout, std::forward<Ts>(xs)...).await();
}

} // namespace pyro
