#pragma once

// What a workspace may leave behind on the host, looked for everywhere it
// could be: processes, cgroups, mounts, loop devices, lock files, files.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "sandbox_fixture.hpp"

namespace pyro::test {

/// A /proc file of a process that may end while it is read: what was read
/// (istream::get turns a failing read into the end, where a streambuf
/// iterator would throw).
std::string proc_text(const std::filesystem::path& path);

/// Decides on one process from its /proc directory and command line.
using pid_filter
  = std::function<bool(const std::filesystem::path&, const std::string&)>;

/// Host pids of the live (not zombie) processes `wanted` accepts.
std::vector<int> live_pids(const pid_filter& wanted);

/// Host pids of processes in the workspace's cgroup, or whose command line
/// names its directory (the sandbox helper, slirp4netns).
std::vector<int> sandbox_pids(const sandbox_fixture& f, const std::string& id);

/// Everything of workspace `id` still on the host after its delete.
std::vector<std::string> leaks(const sandbox_fixture& f,
                               const std::string& id);

/// Files under PYRO_HOME other than the ones a home keeps for itself.
std::vector<std::string> home_leftovers(const sandbox_fixture& f);

/// Who serves a spawned call: the spawned process itself (so that killing
/// it kills the work), or the home's resident server.
enum class served_by { caller, server };

/// Starts `pyro args...` as the fixture runs it, output discarded.
int spawn_pyro(const sandbox_fixture& f, std::vector<std::string> args,
               served_by who = served_by::caller);

/// Waits up to `limit` for `pid`; true when it ended (SIGKILL after that).
bool wait_or_kill(int pid, std::chrono::milliseconds limit);

/// Runs `pyro args...` as the fixture does and kills it (SIGKILL) after
/// `delay`, or lets it finish first.
void kill_after(const sandbox_fixture& f, std::vector<std::string> args,
                std::chrono::milliseconds delay,
                served_by who = served_by::caller);

/// Host pids of this home's sandbox helpers (`pyro-sandbox`) running now.
std::vector<int> helper_pids(const sandbox_fixture& f);

} // namespace pyro::test
