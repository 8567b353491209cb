#include "messages/wire/names.hpp"

#include <cctype>

namespace pyro::wire {

namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

} // namespace

bool is_secret_name(std::string_view name) {
  if (name.empty() || name.size() > 64
      || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_'))
    return false;
  for (char c : name)
    if (!is_alnum(c) && c != '_')
      return false;
  return true;
}

bool is_service_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !is_alnum(name[0]))
    return false;
  for (char c : name)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

} // namespace pyro::wire
