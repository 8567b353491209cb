#pragma once

// A client of the resident server (`pyro server`): finds it by its socket,
// forwards one contract operation and relays its progress lines, and
// starts, stops and asks after it.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::server {

using progress_sink = std::function<void(const std::string&)>;

/// What PYRO_SERVER asks of a call: `off` serves it in the calling process,
/// `auto` starts a server when none runs, anything else (unset) uses one
/// that runs.
enum class server_use { off, if_running, start };
server_use server_use_from_environment();

/// Forwards `op` to the server of `home`, starting one first when none
/// answers and `start_if_missing`; nullopt when no server serves the call
/// (none runs, or the running one was set up with another environment or
/// version and left it alone): the caller then serves it itself. Host
/// paths in `args` are made absolute against this process's working
/// directory first, since the server has its own.
std::optional<result<nlohmann::json>>
call_server(const std::filesystem::path& home, const contract::operation& op,
            nlohmann::json args, const progress_sink& progress,
            bool start_if_missing);

/// The server's status; `unavailable` when none runs.
result<nlohmann::json> server_status(const std::filesystem::path& home);

/// Starts a detached server (this executable, `server run`, logging to
/// PYRO_HOME/server.log) unless one answers, and waits until it does.
result<nlohmann::json> start_server(const std::filesystem::path& home);

/// Asks the server to stop and waits until its socket is gone.
result<nlohmann::json> stop_server(const std::filesystem::path& home);

/// `args` with every host path of `op` (contract::host_access) absolute.
nlohmann::json absolute_host_paths(const contract::operation& op,
                                   nlohmann::json args,
                                   const std::filesystem::path& cwd);

} // namespace pyro::server
