#pragma once

// JSON text is UTF-8, but file names and link targets are bytes. A value
// that is not valid UTF-8 travels twice: as `key` (the bytes, which JSON
// output turns into U+FFFD, for people) and as `key_hex` (exact, for
// programs). Readers take `key_hex` when it is there.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pyro::wire {

[[nodiscard]] bool valid_utf8(std::string_view bytes);

/// Sets `j[key]`, and `j[key + "_hex"]` when the value is not UTF-8.
void put_bytes(nlohmann::json& j, const std::string& key,
               const std::string& value);

/// The exact bytes of `key` (from `key_hex` when present); empty when
/// neither is a string.
[[nodiscard]] std::string get_bytes(const nlohmann::json& j,
                                    const std::string& key);

} // namespace pyro::wire
