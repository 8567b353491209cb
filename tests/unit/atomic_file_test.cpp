#include <random>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/state_store.hpp"
#include "messages/sys/atomic_file.hpp"
#include "record_fixtures.hpp"
#include "temp_dir.hpp"

using namespace pyro;

namespace {

// The child's record for write number `seq`: sizes vary so that a torn
// write would show as a truncated or mixed file.
workspace_record version(int64_t seq) {
  auto r = test::sample_record("victim");
  r.command_count = seq;
  r.name = std::string(static_cast<size_t>((seq * 7919) % 20000), 'x');
  return r;
}

bool read_exact(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    auto got = ::read(fd, p, n);
    if (got <= 0)
      return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

} // namespace

TEST_CASE("a writer killed at random instants never leaves a torn record",
          "[state][atomic][slow]") {
  test::temp_dir home;
  state_store store{home.path()};
  REQUIRE(store.save(version(0)));
  std::mt19937 rng{12345};
  std::uniform_int_distribution<int> delay_us{0, 4000};
  int64_t acked = 0;
  int trials = 0;
  int mid_write_kills = 0;
  int killed_while_writing = 0;
  for (; trials < 250; ++trials) {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      for (int64_t seq = acked + 1;; ++seq) {
        if (!store.save(version(seq)))
          ::_exit(3);
        // Tell the parent this version is durable.
        if (::write(pipefd[1], &seq, sizeof(seq)) != sizeof(seq))
          ::_exit(4);
      }
    }
    ::close(pipefd[1]);
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    REQUIRE(WIFSIGNALED(wstatus));
    int64_t seq = 0;
    while (read_exact(pipefd[0], &seq, sizeof(seq)))
      acked = seq;
    ::close(pipefd[0]);
    for (const auto& e :
         std::filesystem::directory_iterator(store.workspace_dir("victim")))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) {
        ++killed_while_writing;
        break;
      }
    auto record = store.load("victim");
    REQUIRE(record); // parses and validates: never torn
    auto got = record->command_count;
    // The last acknowledged version, or the one being written when killed.
    REQUIRE((got == acked || got == acked + 1));
    REQUIRE(record->name == version(got).name);
    if (got == acked + 1)
      ++mid_write_kills;
    acked = got;
  }
  CHECK(trials >= 200);
  // The kills must really land inside writes for the test to mean anything.
  WARN("kills inside a write: " << killed_while_writing
                                << ", between rename and ack: "
                                << mid_write_kills);
  CHECK(killed_while_writing > 20);
  // The next save sweeps the temp files that killed writers left behind.
  REQUIRE(store.save(version(acked + 1)));
  int temps = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(store.workspace_dir("victim")))
    temps += e.path().filename().string().find(".tmp.") != std::string::npos;
  CHECK(temps == 0);
}

TEST_CASE("two processes mutating one workspace under its lock lose nothing",
          "[state][lock]") {
  test::temp_dir home;
  state_store store{home.path()};
  REQUIRE(store.save(test::sample_record("shared")));
  constexpr int per_child = 150;
  std::vector<pid_t> children;
  for (int c = 0; c < 2; ++c) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (int i = 0; i < per_child; ++i) {
        auto lock = store.lock("shared", std::chrono::seconds{30});
        if (!lock)
          ::_exit(2);
        auto record = store.load("shared");
        if (!record)
          ::_exit(3);
        record->command_count += 1;
        if (!store.save(*record))
          ::_exit(4);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (auto pid : children) {
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    REQUIRE(WIFEXITED(wstatus));
    REQUIRE(WEXITSTATUS(wstatus) == 0);
  }
  auto record = store.load("shared");
  REQUIRE(record);
  CHECK(record->command_count == 2 * per_child);
}

TEST_CASE("a lock held elsewhere times out with deadline_exceeded",
          "[state][lock]") {
  test::temp_dir home;
  state_store store{home.path()};
  auto held = store.lock("busy", std::chrono::seconds{1});
  REQUIRE(held);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto other = store.lock("busy", std::chrono::milliseconds{100});
    ::_exit(!other && other.err().code == error_code::deadline_exceeded ? 0
                                                                        : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  CHECK(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 0);
}

TEST_CASE("write_file_atomic replaces content and read_file reads it back",
          "[state][atomic]") {
  test::temp_dir dir;
  auto path = dir.path() / "f.json";
  REQUIRE(sys::write_file_atomic(path, "one"));
  REQUIRE(sys::write_file_atomic(path, "two"));
  auto text = sys::read_file(path);
  REQUIRE(text);
  CHECK(*text == "two");
  auto missing = sys::read_file(dir.path() / "nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == error_code::not_found);
}
