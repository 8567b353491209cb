#pragma once

// A published port must close when its service exits, also when nobody
// asks pyro to stop the service. pyro is no resident process (each CLI
// call is its own), so a small detached watcher per published service
// does it, started when the ports are published: `pyro-sandbox
// watch-ports RUNTIME_DIR SERVICE ID...`. It asks the agent to tell it
// when the service's process has ended (the `service_wait` op), then
// removes the service's forwards from slirp4netns and its entry from
// runtime/ports.json. It ends with the service, or with the sandbox it was
// started for (a stopped, reset or deleted sandbox takes its forwards
// with its slirp4netns), without touching anything then.

#include <filesystem>
#include <set>
#include <string>

#include "messages/error.hpp"

namespace pyro::vmm {

/// Starts the watcher of a service's forwards, detached from this process
/// (its output goes to the sandbox's log).
status start_port_watch(const std::filesystem::path& runtime_dir,
                        const std::string& service, const std::set<int>& ids);

/// The watcher itself (in pyro-sandbox); returns its exit code.
int run_port_watch(const std::filesystem::path& runtime_dir,
                   const std::string& service, const std::set<int>& ids);

} // namespace pyro::vmm
