#pragma once

// Runs the real pyro-agent as a host process (host mode: a temporary
// directory plays "/") on a Unix socket, and talks to it with the real
// wire client.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/temp_dir.hpp"
#include "messages/wire/agent_client.hpp"

namespace pyro::test {

struct agent_fixture {
  temp_dir dir;
  std::filesystem::path root = dir.path() / "root";
  std::string socket = (dir.path() / "agent.sock").string();
  pid_t pid = -1;
  wire::agent_client client{socket};

  explicit agent_fixture(bool no_openat2 = false) {
    std::filesystem::create_directories(root / "workspace");
    launch_agent(no_openat2);
  }

  ~agent_fixture() {
    stop();
  }

  /// Starts the agent on `root`, listening on `socket`.
  void launch_agent(bool no_openat2 = false) {
    std::filesystem::remove(socket);
    pid = ::fork();
    if (pid == 0) {
      if (no_openat2)
        ::setenv("PYRO_AGENT_NO_OPENAT2", "1", 1);
      ::execl(PYRO_AGENT_BIN, PYRO_AGENT_BIN, "--listen",
              ("unix:" + socket).c_str(), "--root", root.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 500 && !std::filesystem::exists(socket); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    REQUIRE(std::filesystem::exists(socket));
  }

  /// SIGTERM, as a backend's stop sends it; SIGKILL if it lingers.
  void stop() {
    if (pid <= 0)
      return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 200 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }

  [[nodiscard]] bool agent_alive() const {
    return pid > 0 && ::kill(pid, 0) == 0;
  }

  nlohmann::json ok(std::string_view op, nlohmann::json args = {}) {
    if (args.is_null())
      args = nlohmann::json::object();
    auto r = client.call(op, args);
    INFO(op << ": " << (r ? std::string{} : to_string(r.err())));
    REQUIRE(r);
    return *r;
  }

  nlohmann::json exec(const std::string& command, double timeout = 30) {
    return ok("exec", {{"command", command}, {"timeout_seconds", timeout}});
  }

  /// Uploads bytes as the body of an op (import, write).
  result<nlohmann::json> upload(std::string_view op, nlohmann::json args,
                                const std::string& body) {
    bool sent = false;
    wire::chunk_source source = [&]() -> result<std::string> {
      if (sent)
        return std::string{};
      sent = true;
      return body;
    };
    return client.call(op, std::move(args), &source);
  }

  /// Downloads the stream an op returns (read, export, manifest).
  result<std::string> download(std::string_view op, nlohmann::json args) {
    std::string data;
    wire::chunk_sink sink = [&](std::string_view b) -> status {
      data.append(b);
      return {};
    };
    auto r = client.call(op, std::move(args), nullptr, &sink);
    if (!r)
      return r.err();
    return data;
  }
};

} // namespace pyro::test
