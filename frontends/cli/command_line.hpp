#pragma once

namespace pyro::cli {

/// Parses argv against the contract table, runs the chosen operation through
/// the SDK and prints its result; returns the process exit status from the
/// error table.
int run(int argc, char** argv);

} // namespace pyro::cli
