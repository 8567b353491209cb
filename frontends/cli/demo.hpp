#pragma once

#include <nlohmann/json.hpp>

#include "frontends/sdk/pyro.hpp"

namespace pyro::cli {

/// `pyro demo`: a workspace created from a seed, changed by sync and exec,
/// diffed against its baseline, exported and deleted, each step printed as
/// it happens (on stderr) and the whole run returned as JSON.
result<nlohmann::json> run_demo(Pyro& sdk, const nlohmann::json& args,
                                const progress_fn& progress);

} // namespace pyro::cli
