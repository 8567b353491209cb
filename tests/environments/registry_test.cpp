#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include <sys/stat.h>

#include "tests/environments/registry_fixture.hpp"
#include "tests/environments/tree_fixture.hpp"
#include "tests/unit/temp_dir.hpp"
#include "vmm/environments/registry_client.hpp"
#include "vmm/environments/registry_transfer.hpp"
#include "vmm/environments/sha256.hpp"

namespace fs = std::filesystem;
using namespace pyro;

using test::make_rootfs;
using test::slurp;
using test::tree;
using test::why;

TEST_CASE("environments push to docker-registry and pull back identical") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  auto src = dir.path() / "src";
  make_rootfs(src);
  std::vector<std::string> lines;
  vmm::registry_options opts;
  opts.progress = [&](std::string_view l) { lines.emplace_back(l); };
  auto ref = registry.host() + "/pyro/busybox:latest";
  auto pushed = vmm::push_rootfs("busybox", src, ref, dir.path() / "work",
                                 opts);
  INFO(why(pushed));
  REQUIRE(pushed);
  CHECK(pushed->blob_digests.size() == 2);
  auto dst = dir.path() / "dst";
  auto blobs = dir.path() / "cache" / "blobs";
  auto pulled = vmm::pull_rootfs("busybox", ref, dst, blobs, opts);
  INFO(why(pulled));
  REQUIRE(pulled);
  CHECK(pulled->manifest_digest == pushed->manifest_digest);
  CHECK(tree(dst) == tree(src));
  for (const auto& d : pushed->blob_digests)
    CHECK(fs::exists(blobs / "sha256" / d.substr(7)));
  auto has = [&](const std::string& prefix) {
    for (const auto& l : lines)
      if (l.rfind(prefix, 0) == 0)
        return true;
    return false;
  };
  CHECK(has("[pull] phase=resolve environment=busybox"));
  CHECK(has("[pull] phase=download environment=busybox"));
  CHECK(has("[pull] phase=verify environment=busybox"));
  CHECK(has("[pull] phase=install environment=busybox"));
  // The pulled busybox runs.
  auto out = dir.path() / "echo.out";
  auto cmd = (dst / "bin/busybox").string() + " echo hi > " + out.string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(slurp(out) == "hi\n");
}

TEST_CASE("environments pull of a corrupted blob fails naming the digest") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  auto src = dir.path() / "src";
  make_rootfs(src);
  auto ref = registry.host() + "/pyro/busybox:corrupt";
  auto pushed = vmm::push_rootfs("busybox", src, ref, dir.path() / "work", {});
  INFO(why(pushed));
  REQUIRE(pushed);
  auto layer = pushed->blob_digests.at(0);
  auto hex = layer.substr(7);
  auto stored = registry.storage() / "docker/registry/v2/blobs/sha256"
                / hex.substr(0, 2) / hex / "data";
  REQUIRE(fs::exists(stored));
  {
    std::fstream f{stored, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(100);
    f.put('\x42');
    f.put('\x43');
  }
  auto dst = dir.path() / "dst";
  auto blobs = dir.path() / "cache" / "blobs";
  auto pulled = vmm::pull_rootfs("busybox", ref, dst, blobs, {});
  REQUIRE_FALSE(pulled);
  CHECK(pulled.err().message.find("digest mismatch") != std::string::npos);
  CHECK(pulled.err().message.find(layer) != std::string::npos);
  // Nothing was extracted and nothing bad stays in the cache.
  CHECK_FALSE(fs::exists(dst / "bin"));
  CHECK_FALSE(fs::exists(blobs / "sha256" / hex));
  CHECK_FALSE(fs::exists(blobs / "sha256" / (hex + ".partial")));
}

TEST_CASE("environments interrupted blob download resumes") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  auto src = dir.path() / "src";
  make_rootfs(src);
  auto ref = registry.host() + "/pyro/busybox:resume";
  auto pushed = vmm::push_rootfs("busybox", src, ref, dir.path() / "work", {});
  INFO(why(pushed));
  REQUIRE(pushed);
  auto layer = pushed->blob_digests.at(0);
  auto hex = layer.substr(7);
  auto blobs = dir.path() / "cache" / "blobs";
  // A first pull, then pretend it was killed half-way through the layer.
  auto first = vmm::pull_rootfs("busybox", ref, dir.path() / "first", blobs,
                               {});
  INFO(why(first));
  REQUIRE(first);
  auto whole = slurp(blobs / "sha256" / hex);
  fs::remove(blobs / "sha256" / hex);
  std::ofstream{blobs / "sha256" / (hex + ".partial"), std::ios::binary}
    << whole.substr(0, whole.size() / 2);
  vmm::registry_options opts;
  std::vector<std::string> lines;
  opts.progress = [&](std::string_view l) { lines.emplace_back(l); };
  auto dst = dir.path() / "dst";
  auto pulled = vmm::pull_rootfs("busybox", ref, dst, blobs, opts);
  INFO(why(pulled));
  REQUIRE(pulled);
  CHECK(slurp(blobs / "sha256" / hex) == whole);
  CHECK_FALSE(fs::exists(blobs / "sha256" / (hex + ".partial")));
  CHECK(tree(dst) == tree(src));

  // A partial file of garbage is detected and the download restarted
  // on the next pull.
  fs::remove(blobs / "sha256" / hex);
  std::ofstream{blobs / "sha256" / (hex + ".partial"), std::ios::binary}
    << "garbage";
  auto bad = vmm::pull_rootfs("busybox", ref, dir.path() / "d2", blobs, {});
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("digest mismatch") != std::string::npos);
  auto again = vmm::pull_rootfs("busybox", ref, dir.path() / "d3", blobs, {});
  REQUIRE(again);
  CHECK(tree(dir.path() / "d3") == tree(src));

  // A cached blob damaged after download is caught before extraction.
  {
    std::fstream f{blobs / "sha256" / hex,
                   std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(10);
    f.put('\x01');
  }
  auto damaged = vmm::pull_rootfs("busybox", ref, dir.path() / "d4", blobs,
                                  {});
  REQUIRE_FALSE(damaged);
  CHECK(damaged.err().message.find("cached blob digest mismatch")
        != std::string::npos);
  REQUIRE(vmm::pull_rootfs("busybox", ref, dir.path() / "d5", blobs, {}));
}

TEST_CASE("environments two concurrent pulls share one blob cache") {
  test::temp_dir dir;
  test::registry_server registry{dir.path() / "registry"};
  auto src = dir.path() / "src";
  make_rootfs(src);
  auto ref = registry.host() + "/pyro/busybox:both";
  REQUIRE(vmm::push_rootfs("busybox", src, ref, dir.path() / "work", {}));
  auto blobs = dir.path() / "cache" / "blobs";
  std::atomic<int> ok{0};
  std::thread a{[&] {
    ok += vmm::pull_rootfs("busybox", ref, dir.path() / "a", blobs, {})
            ? 1
            : 0;
  }};
  std::thread b{[&] {
    ok += vmm::pull_rootfs("busybox", ref, dir.path() / "b", blobs, {})
            ? 1
            : 0;
  }};
  a.join();
  b.join();
  CHECK(ok == 2);
  CHECK(tree(dir.path() / "a") == tree(src));
  CHECK(tree(dir.path() / "b") == tree(src));
}

namespace {

// Just enough HTTP to act as a registry that demands a bearer token.
class bearer_server {
public:
  bearer_server() : port_(test::free_port()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    thread_ = std::thread{[this] { serve(); }};
  }
  ~bearer_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const {
    return port_;
  }
  std::string manifest = "{\"schemaVersion\":2}";
  std::vector<std::string> token_queries;
  std::vector<std::string> token_auth;

private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        auto n = ::read(c, buf, sizeof buf);
        if (n <= 0)
          break;
        req.append(buf, static_cast<size_t>(n));
      }
      auto path = req.substr(req.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      auto header = [&](const std::string& name) {
        auto p = req.find("\r\n" + name + ": ");
        if (p == std::string::npos)
          return std::string{};
        auto start = p + name.size() + 4;
        return req.substr(start, req.find("\r\n", start) - start);
      };
      std::string resp;
      if (path.rfind("/token", 0) == 0) {
        token_queries.push_back(path);
        token_auth.push_back(header("Authorization"));
        std::string body = R"({"token":"granted-123"})";
        resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               "Content-Length: "
               + std::to_string(body.size()) + "\r\n\r\n" + body;
      } else if (header("Authorization") == "Bearer granted-123") {
        resp = "HTTP/1.1 200 OK\r\nContent-Type: "
               "application/vnd.oci.image.manifest.v1+json\r\n"
               "Content-Length: "
               + std::to_string(manifest.size()) + "\r\n\r\n" + manifest;
      } else {
        resp = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer "
               "realm=\"http://127.0.0.1:"
               + std::to_string(port_)
               + "/token\",service=\"test-registry\","
                 "scope=\"repository:pyro/busybox:pull\"\r\n"
                 "Content-Length: 0\r\n\r\n";
      }
      ::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }
  int port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("environments bearer challenge fetches a token and retries") {
  bearer_server server;
  vmm::registry_client client{
    "http://127.0.0.1:" + std::to_string(server.port()), "user-secret"};
  auto m = client.get_manifest("pyro/busybox", "latest");
  REQUIRE(m);
  CHECK(m->body == server.manifest);
  CHECK(m->media_type == "application/vnd.oci.image.manifest.v1+json");
  REQUIRE(server.token_queries.size() == 1);
  CHECK(server.token_queries[0]
        == "/token?service=test-registry&scope=repository%3Apyro%2Fbusybox"
           "%3Apull");
  CHECK(server.token_auth[0] == "Bearer user-secret");

  vmm::registry_client anonymous{
    "http://127.0.0.1:" + std::to_string(server.port()), ""};
  REQUIRE(anonymous.get_manifest("pyro/busybox", "latest"));
}
