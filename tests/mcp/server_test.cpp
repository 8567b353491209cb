// `pyro mcp serve` as a hostile client meets it: over stdio and HTTP, with
// raw bytes no client library would send. Each case failed against the
// server before it bounded its input, checked Host and Origin exactly,
// required a token, kept the backend to its operator and host paths to
// its roots.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../e2e/sandbox_fixture.hpp"
#include "server_process.hpp"

using namespace pyro::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct server_fixture : sandbox_fixture {
  // Where the stdio server runs: its roots when nobody gives any.
  temp_dir work;
  temp_dir elsewhere;

  server_fixture() {
    std::ofstream{elsewhere.path() / "private.txt"} << "keep out\n";
  }

  std::map<std::string, std::string>
  env(std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> e{
      {"PYRO_HOME", home.path().string()},
      {"PYRO_ENVIRONMENT_CACHE_DIR", cache.path().string()},
      {"PYRO_BACKEND", ""},
      {"PYRO_SANDBOX_POOL", "0"}};
    for (auto& [k, v] : extra)
      e[k] = v;
    return e;
  }

  std::unique_ptr<mcp_server> stdio(std::vector<std::string> extra = {},
                                    std::string profile = "workspace-full") {
    std::vector<std::string> args{"mcp", "serve", "--profile", profile};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<mcp_server>(args, env(), work.path());
    auto init = s->request(initialize_request(0));
    REQUIRE(init.contains("result"));
    return s;
  }

  std::unique_ptr<mcp_server> http(std::map<std::string, std::string> extra_env
                                   = {}) {
    return std::make_unique<mcp_server>(
      std::vector<std::string>{"mcp", "serve", "--transport", "http", "--port",
                               "0"},
      env(std::move(extra_env)), work.path());
  }

  [[nodiscard]] size_t workspace_count() const {
    auto dir = home.path() / "workspaces";
    if (!fs::exists(dir))
      return 0;
    return static_cast<size_t>(
      std::distance(fs::directory_iterator{dir}, fs::directory_iterator{}));
  }
};

json call(mcp_server& s, int id, const std::string& tool, json args) {
  return s.request(
    rpc(id, "tools/call", {{"name", tool}, {"arguments", std::move(args)}}));
}

// The text of a tool result that must be a refusal.
std::string refusal(const json& reply) {
  INFO(reply.dump());
  REQUIRE(reply["result"]["isError"] == true);
  return reply["result"]["content"][0]["text"].get<std::string>();
}

// The next message the server writes; fails the test if none comes.
json next_message(mcp_server& s) {
  auto line = s.next_line();
  REQUIRE(line.has_value());
  return json::parse(*line, nullptr, false);
}

std::string deep_ping(int id, size_t depth) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id)
         + R"(,"method":"ping","params":{"p":)" + std::string(depth, '[')
         + std::string(depth, ']') + "}}";
}

// The token an HTTP server made up, and the file it is in.
std::pair<std::string, fs::path> made_up_token(mcp_server& s) {
  auto line = s.stderr_line("the token is in ");
  auto start = line.find("the token is in ") + 16;
  fs::path file = line.substr(start, line.find(' ', start) - start);
  std::ifstream in{file};
  std::string token;
  std::getline(in, token);
  return {token, file};
}

std::string auth(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}

const std::string ping_body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";

std::string init_body() {
  return initialize_request(1).dump();
}

} // namespace

TEST_CASE_METHOD(server_fixture,
                 "stdio: a 150,000-deep ping is refused and the server serves "
                 "on",
                 "[mcp][limits]") {
  auto s = stdio();
  s->send(deep_ping(7, 150000));
  auto refused = next_message(*s);
  CHECK(refused["error"]["code"] == -32600);
  CHECK_THAT(refused["error"]["message"].get<std::string>(),
             Catch::Contains("nest deeper"));
  // Deep inside a tool call's arguments, and unclosed, the same.
  s->send(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":)"
          + std::string(150000, '{'));
  CHECK(next_message(*s)["error"]["code"] == -32600);
  // A line past the size limit, never held whole.
  s->send(std::string(5 << 20, ' '));
  auto big = next_message(*s);
  CHECK_THAT(big["error"]["message"].get<std::string>(),
             Catch::Contains("larger than"));
  CHECK(s->request(rpc(9, "ping"))["result"] == json::object());
  CHECK(s->running());
  CHECK(s->finish() == 0);
}

TEST_CASE_METHOD(server_fixture,
                 "http: a 150,000-deep ping is refused and the server serves "
                 "on",
                 "[mcp][limits][http]") {
  auto s = http();
  auto port = s->http_port();
  auto [token, file] = made_up_token(*s);
  auto headers
    = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n" + auth(token);
  auto init = http_exchange(port, http_post(headers, init_body()));
  REQUIRE(init.status == 200);
  auto session = "Mcp-Session-Id: " + init.header("mcp-session-id") + "\r\n";
  auto deep
    = http_exchange(port, http_post(headers + session, deep_ping(2, 150000)));
  CHECK(deep.status == 400);
  CHECK(json::parse(deep.body, nullptr, false)["error"]["code"] == -32600);
  // Before the session is even checked, too.
  CHECK(http_exchange(port, http_post(headers, deep_ping(3, 150000))).status
        == 400);
  auto pong = http_exchange(port, http_post(headers + session, ping_body));
  CHECK(pong.status == 200);
  CHECK(json::parse(pong.body, nullptr, false)["result"] == json::object());
  CHECK(s->running());
}

TEST_CASE_METHOD(server_fixture,
                 "http: without PYRO_MCP_TOKEN a token is made up, kept 0600 "
                 "and required",
                 "[mcp][token][http]") {
  auto s = http();
  auto port = s->http_port();
  auto [token, file] = made_up_token(*s);
  CHECK(token.size() == 64);
  CHECK(file.parent_path() == home.path() / "mcp");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(file.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto host = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  auto bare = http_exchange(port, http_post(host, init_body()));
  CHECK(bare.status == 401);
  CHECK(bare.header("mcp-session-id").empty());
  CHECK(
    http_exchange(port, http_post(host + auth(token + "0"), init_body())).status
    == 401);
  CHECK(
    http_exchange(port, http_post(host + auth(token.substr(1)), init_body()))
      .status
    == 401);
  auto ok = http_exchange(port, http_post(host + auth(token), init_body()));
  CHECK(ok.status == 200);
  CHECK_FALSE(ok.header("mcp-session-id").empty());
  // The token never appears on stderr, only where it is.
  CHECK(s->stderr_line(token, std::chrono::milliseconds{200}).empty());
}

TEST_CASE_METHOD(server_fixture,
                 "http: the operator's PYRO_MCP_TOKEN is the one required",
                 "[mcp][token][http]") {
  auto s = http({{"PYRO_MCP_TOKEN", "operator-token"}});
  auto port = s->http_port();
  auto host = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  CHECK(http_exchange(port, http_post(host, init_body())).status == 401);
  CHECK(
    http_exchange(port, http_post(host + auth("operator-token"), init_body()))
      .status
    == 200);
  CHECK_FALSE(fs::exists(home.path() / "mcp"));
}

TEST_CASE_METHOD(server_fixture,
                 "http: Host and Origin are compared whole, host and port",
                 "[mcp][admission][http]") {
  auto s = http();
  auto port = s->http_port();
  auto p = std::to_string(port);
  auto [token, file] = made_up_token(*s);
  auto with = [&](const std::string& headers) {
    return http_exchange(port, http_post(headers + auth(token), init_body()));
  };
  for (std::string host :
       {"127.0.0.1.evil.com:" + p, "localhost.evil.com:" + p, "evil.com:" + p,
        "127.0.0.2:" + p, "localhost.:" + p, "127.1:" + p, "[::1]:" + p,
        std::string{"127.0.0.1"}, "127.0.0.1:" + p + ".evil.com",
        "127.0.0.1:" + p + "@evil.com"}) {
    INFO(host);
    // With the Origin a rebinding page would send for it.
    auto r = with("Host: " + host + "\r\nOrigin: http://" + host + "\r\n");
    CHECK((r.status == 403 || r.status == 400));
    CHECK(r.header("mcp-session-id").empty());
  }
  CHECK(with("").status == 400);
  CHECK(with("Host: \r\n").status == 400);
  CHECK(
    with("Host: 127.0.0.1:" + p + "\r\nHost: 127.0.0.1:" + p + "\r\n").status
    == 400);
  CHECK(with("Host: 127.0.0.1:" + p + "\r\nHost: evil.com:" + p + "\r\n").status
        == 400);
  for (std::string origin :
       {std::string{"http://evil.example"}, "http://127.0.0.1.evil.com:" + p,
        "https://127.0.0.1:" + p, std::string{"http://127.0.0.1:1"},
        std::string{"null"}}) {
    INFO(origin);
    CHECK(with("Host: 127.0.0.1:" + p + "\r\nOrigin: " + origin + "\r\n").status
          == 403);
  }
  CHECK(
    with("Host: 127.0.0.1:" + p + "\r\nOrigin: http://127.0.0.1:" + p + "\r\n")
      .status
    == 200);
  CHECK(with("Host: localhost:" + p + "\r\n").status == 200);
}

TEST_CASE_METHOD(server_fixture,
                 "a workspace-core client cannot choose the backend or "
                 "host-compat",
                 "[mcp][operator]") {
  auto s = stdio({}, "workspace-core");
  for (auto [key, value] : {std::pair<std::string, json>{"backend", "host"},
                            {"allow_host_compat", true}}) {
    auto r = call(*s, 2, "workspace_create",
                  {{"environment", "busybox"}, {key, value}});
    INFO(r.dump());
    CHECK(r["error"]["code"] == -32602);
    CHECK_THAT(r["error"]["message"].get<std::string>(),
               Catch::Contains("unknown argument '" + key + "'"));
  }
  auto both = call(*s, 3, "workspace_create",
                   {{"environment", "busybox"},
                    {"backend", "host"},
                    {"allow_host_compat", true}});
  CHECK(both["error"]["code"] == -32602);
  CHECK(workspace_count() == 0);
}

TEST_CASE_METHOD(server_fixture,
                 "the operator's backend applies, and its refusal teaches no "
                 "bypass",
                 "[mcp][operator]") {
  // The host backend chosen by the operator, but not accepted with
  // --allow-host-compat: nothing runs, and the model is not told the flag.
  auto s = stdio({"--backend", "host"});
  auto text
    = refusal(call(*s, 2, "workspace_create", {{"environment", "busybox"}}));
  CHECK_THAT(text, Catch::Contains("without isolation")
                     && Catch::Contains("operator"));
  CHECK_THAT(text, !Catch::Contains("allow-host-compat")
                     && !Catch::Contains("allow_host_compat"));
  CHECK(workspace_count() == 0);
}

TEST_CASE_METHOD(server_fixture,
                 "host paths outside the roots are refused before anything "
                 "runs",
                 "[mcp][roots]") {
  // No --host-root and a client without roots: the stdio server's working
  // directory is the one root.
  auto s = stdio();
  auto root = fs::canonical(work.path()).string();
  auto outside = elsewhere.path();
  auto check = [&](const json& reply) {
    auto text = refusal(reply);
    CHECK_THAT(text, Catch::Contains("outside the host roots")
                       && Catch::Contains(root)
                       && Catch::Contains("--host-root"));
  };
  check(call(*s, 2, "workspace_create",
             {{"environment", "busybox"},
              {"secrets", {{{"name", "S"}, {"file_path", "/etc/shadow"}}}}}));
  check(call(*s, 3, "workspace_create",
             {{"environment", "busybox"}, {"seed_path", outside.string()}}));
  check(call(*s, 4, "workspace_sync_push",
             {{"workspace_id", "ws-any"}, {"source_path", outside.string()}}));
  check(call(*s, 5, "workspace_export",
             {{"workspace_id", "ws-any"},
              {"path", "x"},
              {"output_path", (outside / "private.txt").string()},
              {"overwrite", true}}));
  // A symlink inside the root that points out leads nowhere.
  fs::create_directory_symlink(outside, work.path() / "link");
  check(call(*s, 6, "workspace_create",
             {{"environment", "busybox"},
              {"seed_path", (work.path() / "link").string()}}));
  check(call(*s, 7, "workspace_export",
             {{"workspace_id", "ws-any"},
              {"path", "x"},
              {"output_path", (work.path() / "link" / "new.txt").string()}}));
  CHECK(workspace_count() == 0);
  std::ifstream in{outside / "private.txt"};
  std::string kept;
  std::getline(in, kept);
  CHECK(kept == "keep out");
}

TEST_CASE_METHOD(server_fixture,
                 "inside the roots seeds, syncs and exports work; outside "
                 "they do not",
                 "[mcp][roots][sandbox]") {
  auto granted = fs::canonical(elsewhere.path()) / "granted";
  fs::create_directories(granted / "seed");
  std::ofstream{granted / "seed" / "hello.txt"} << "from the host\n";
  // The operator's root replaces the working directory.
  auto s = stdio({"--host-root", granted.string()});
  auto refused
    = call(*s, 2, "workspace_create",
           {{"environment", "busybox"}, {"seed_path", work.path().string()}});
  CHECK_THAT(refusal(refused), Catch::Contains(granted.string())
                                 && Catch::Contains("given with --host-root"));
  auto created = call(
    *s, 3, "workspace_create",
    {{"environment", "busybox"}, {"seed_path", (granted / "seed").string()}});
  INFO(created.dump());
  REQUIRE(created["result"]["isError"] == false);
  auto id = created["result"]["structuredContent"]["workspace_id"];
  auto read = call(*s, 4, "workspace_file_read",
                   {{"workspace_id", id}, {"path", "hello.txt"}});
  CHECK(read["result"]["structuredContent"]["content"] == "from the host\n");
  auto exported = call(*s, 5, "workspace_export",
                       {{"workspace_id", id},
                        {"path", "hello.txt"},
                        {"output_path", (granted / "out.txt").string()}});
  CHECK(exported["result"]["isError"] == false);
  CHECK(fs::exists(granted / "out.txt"));
  auto out_of_root
    = call(*s, 6, "workspace_export",
           {{"workspace_id", id},
            {"path", "hello.txt"},
            {"output_path", (work.path() / "out.txt").string()}});
  refusal(out_of_root);
  CHECK_FALSE(fs::exists(work.path() / "out.txt"));
  auto sync
    = call(*s, 7, "workspace_sync_push",
           {{"workspace_id", id}, {"source_path", work.path().string()}});
  refusal(sync);
  CHECK(
    call(*s, 8, "workspace_delete", {{"workspace_id", id}})["result"]["isError"]
    == false);
}

TEST_CASE_METHOD(server_fixture,
                 "a host root given to the server must be a directory",
                 "[mcp][roots]") {
  auto r
    = pyro({"mcp", "serve", "--host-root", (work.path() / "missing").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("is not a directory"));
}
