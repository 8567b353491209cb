#pragma once

#include <string>
#include <vector>

namespace pyro::cli {

/// Marks where the command of `run`, `workspace exec` or `workspace service
/// start` begins, by putting `--` before its first word when the caller did
/// not: that word is the first one after the operation's positionals that
/// is not a pyro option or an option's value. From there on nothing is
/// pyro's, so `pyro run ENV git --version` runs `git --version` rather than
/// printing pyro's version, while options before the command stay pyro's.
/// `argv` starts with the program name; it is returned as it is when it has
/// `--` already or names no such operation.
std::vector<std::string> mark_command_start(std::vector<std::string> argv);

} // namespace pyro::cli
