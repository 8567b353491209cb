#include "vmm/guest/shell.hpp"

#include "vmm/child_process.hpp"

namespace pyro::vmm {

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string shell_quote(const std::filesystem::path& path) {
  return shell_quote(path.string());
}

std::string shell_quote(const char* text) {
  return shell_quote(std::string{text});
}

status run_shell(const std::string& script, std::chrono::milliseconds timeout) {
  auto ran = run_helper({"/bin/sh", "-c", script}, timeout);
  if (!ran)
    return ran.err();
  if (ran->exit_code != 0) {
    auto tail = ran->err.size() > 1500 ? ran->err.substr(ran->err.size() - 1500)
                                       : ran->err;
    return make_error(error_code::unavailable,
                      "`" + script.substr(0, 200) + "` failed (exit "
                        + std::to_string(ran->exit_code) + "): " + tail);
  }
  return {};
}

} // namespace pyro::vmm
