// The HTTP client for Firecracker's API socket against a fake server that
// answers the way Firecracker's does (keep-alive, 204 without a body, 400
// with a JSON fault_message).

#include <chrono>

#include "fixtures.hpp"
#include "vmm/firecracker/api_client.hpp"

using namespace pyro;
using namespace pyro::vmm::firecracker;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using answer = test::fake_api_server::answer_t;

struct api_fixture {
  test::temp_dir dir;
  std::string socket = (dir.path() / "api.sock").string();
};

} // namespace

TEST_CASE("api client: a PUT carries its JSON body; 204 is success") {
  api_fixture f;
  test::fake_api_server server{f.socket, [](const auto&) {
                                 return answer{204, ""};
                               }};
  api_client api{f.socket, 2s};
  api_request put{
    "PUT", "/machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 512}}};
  auto start = std::chrono::steady_clock::now();
  auto done = api.call(put);
  INFO((done ? std::string{} : to_string(done.err())));
  REQUIRE(done);
  CHECK(done->is_null());
  // The server keeps the connection open, as Firecracker does: the
  // client must end the answer at its headers, not wait for EOF.
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  auto got = server.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].method == "PUT");
  CHECK(got[0].path == "/machine-config");
  CHECK(json::parse(got[0].body) == put.body);
  CHECK(got[0].headers.find("\r\nContent-Type: application/json")
        != std::string::npos);
  CHECK(got[0].headers.find("\r\nContent-Length: "
                            + std::to_string(got[0].body.size()))
        != std::string::npos);
  CHECK(got[0].headers.rfind("PUT /machine-config HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("api client: a PATCH and a GET; a GET sends no body") {
  api_fixture f;
  test::fake_api_server server{f.socket, [](const test::received_request& r) {
                                 if (r.method == "GET")
                                   return answer{200, R"({"vcpu_count":2})"};
                                 return answer{204, ""};
                               }};
  api_client api{f.socket, 2s};
  REQUIRE(api.call({"PATCH", "/vm", {{"state", "Paused"}}}));
  auto config = api.call({"GET", "/machine-config", nullptr});
  REQUIRE(config);
  CHECK((*config)["vcpu_count"] == 2);
  auto got = server.requests();
  REQUIRE(got.size() == 2);
  CHECK(got[0].method == "PATCH");
  CHECK(got[0].path == "/vm");
  CHECK(json::parse(got[0].body) == json{{"state", "Paused"}});
  CHECK(got[1].method == "GET");
  CHECK(got[1].headers.find("Content-Length") == std::string::npos);
  CHECK(got[1].body.empty());
}

TEST_CASE("api client: a 400 names the request and Firecracker's fault") {
  api_fixture f;
  test::fake_api_server server{
    f.socket, [](const auto&) {
      return answer{400, R"({"fault_message":"Invalid kernel path"})"};
    }};
  api_client api{f.socket, 2s};
  auto done = api.call({"PUT", "/boot-source", {{"kernel_image_path", "/x"}}});
  REQUIRE_FALSE(done);
  CHECK(done.err().code == error_code::failed_precondition);
  CHECK(done.err().message
        == "Firecracker refused PUT /boot-source (HTTP 400): Invalid kernel "
           "path");
}

TEST_CASE("api client: a 500 without JSON quotes the body") {
  api_fixture f;
  test::fake_api_server server{f.socket, [](const auto&) {
                                 return answer{500, "it broke"};
                               }};
  api_client api{f.socket, 2s};
  auto done = api.call({"PUT", "/actions", {{"action_type", "InstanceStart"}}});
  REQUIRE_FALSE(done);
  CHECK(done.err().code == error_code::internal);
  CHECK(done.err().message.find("PUT /actions (HTTP 500): it broke")
        != std::string::npos);
}

TEST_CASE("api client: an answer that arrives byte by byte") {
  api_fixture f;
  test::fake_api_server server{
    f.socket,
    [](const auto&) {
      return answer{400, R"({"fault_message":"slow"})"};
    },
    1};
  api_client api{f.socket, 5s};
  auto response = api.send({"PUT", "/vsock", {{"guest_cid", 3}}});
  REQUIRE(response);
  CHECK(response->status == 400);
  CHECK(response->body == R"({"fault_message":"slow"})");
}

TEST_CASE("api client: no answer ends at the timeout") {
  api_fixture f;
  test::fake_api_server server{f.socket, [](const auto&) {
                                 answer a;
                                 a.never = true;
                                 return a;
                               }};
  api_client api{f.socket, 300ms};
  auto start = std::chrono::steady_clock::now();
  auto done = api.call({"PUT", "/actions", {{"action_type", "InstanceStart"}}});
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(done);
  CHECK(done.err().code == error_code::deadline_exceeded);
  CHECK(done.err().message.find("PUT /actions") != std::string::npos);
  CHECK(took >= 290ms);
  CHECK(took < 2s);
}

TEST_CASE("api client: a server that hangs up, or is not there") {
  api_fixture f;
  {
    test::fake_api_server server{f.socket, [](const auto&) {
                                   answer a;
                                   a.hang_up = true;
                                   return a;
                                 }};
    api_client api{f.socket, 2s};
    auto done = api.call({"PUT", "/vsock", {{"guest_cid", 3}}});
    REQUIRE_FALSE(done);
    CHECK(done.err().code == error_code::unavailable);
    CHECK(done.err().message.find("closed without an answer")
          != std::string::npos);
  }
  std::filesystem::remove(f.socket);
  api_client api{f.socket, 2s};
  auto done = api.call({"PUT", "/vsock", {{"guest_cid", 3}}});
  REQUIRE_FALSE(done);
  CHECK(done.err().code == error_code::unavailable);
  CHECK(done.err().message.find(f.socket) != std::string::npos);
}

TEST_CASE("api client: a reply that is not HTTP is an internal error") {
  api_fixture f;
  int listener = test::listen_unix(f.socket);
  std::thread server{[&] {
    int fd = ::accept(listener, nullptr, nullptr);
    char buf[1024];
    static_cast<void>(::recv(fd, buf, sizeof(buf), 0));
    test::write_all(fd, "SSH-2.0-OpenSSH\r\n\r\n");
    ::close(fd);
  }};
  api_client api{f.socket, 2s};
  auto done = api.call({"GET", "/", nullptr});
  server.join();
  ::close(listener);
  REQUIRE_FALSE(done);
  CHECK(done.err().code == error_code::internal);
  CHECK(done.err().message.find("not an HTTP status line")
        != std::string::npos);
}
