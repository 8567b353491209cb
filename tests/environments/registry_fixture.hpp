#pragma once

// A real registry (Debian's docker-registry) on 127.0.0.1 with a free
// port and filesystem storage in a temp dir, started and stopped by the
// test itself.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pyro::test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class registry_server {
public:
  explicit registry_server(const std::filesystem::path& dir)
    : storage_(dir / "storage"), port_(free_port()) {
    std::filesystem::create_directories(storage_);
    auto config = dir / "config.yml";
    std::ofstream{config} << "version: 0.1\n"
                          << "log:\n  level: error\n"
                          << "storage:\n  filesystem:\n    rootdirectory: "
                          << storage_.string() << "\n"
                          << "  delete:\n    enabled: true\n"
                          << "http:\n  addr: 127.0.0.1:" << port_ << "\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/bin/docker-registry", "docker-registry", "serve",
              config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !port_open(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    if (!port_open(port_))
      throw std::runtime_error("docker-registry did not start");
  }

  ~registry_server() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }

  std::string host() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  const std::filesystem::path& storage() const {
    return storage_;
  }

private:
  std::filesystem::path storage_;
  int port_;
  pid_t pid_ = -1;
};

} // namespace pyro::test
