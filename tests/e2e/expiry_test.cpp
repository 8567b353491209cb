// Status tells the truth about time: a workspace past its TTL shows as
// expired with what to do, `update --ttl-seconds` brings it back and
// `reap` deletes the expired ones only.

#include <thread>

#include "leak_check.hpp"
#include "sandbox_fixture.hpp"

using namespace pyro;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string state_in_list(const test::sandbox_fixture& f,
                          const std::string& id) {
  auto listed = f.pyro_json({"workspace", "list"});
  INFO(listed.dump());
  for (const auto& w : listed["workspaces"])
    if (w["workspace_id"] == id)
      return w["state"].get<std::string>();
  return "absent";
}

} // namespace

TEST_CASE_METHOD(test::sandbox_fixture,
                 "expired workspaces say so, can be extended, and are reaped",
                 "[e2e][expiry]") {
  auto kept = create({"--ttl-seconds", "1"});
  auto doomed = create({"--ttl-seconds", "1"});
  auto forever = create({"--ttl-seconds", "0"});
  std::this_thread::sleep_for(1500ms);

  auto status = pyro_json({"workspace", "status", doomed});
  CHECK(status["state"] == "expired");
  CHECK_THAT(status["hint"].get<std::string>(),
             Catch::Contains("pyro workspace reap"));
  CHECK(state_in_list(*this, doomed) == "expired");
  CHECK(state_in_list(*this, forever) == "started");

  auto extended
    = pyro_json({"workspace", "update", kept, "--ttl-seconds", "3600"});
  CHECK(extended["ttl_seconds"] == 3600);
  CHECK(pyro_json({"workspace", "status", kept})["state"] == "started");
  auto refused = pyro({"workspace", "update", kept, "--ttl-seconds", "-5"});
  CHECK(refused.exit_code != 0);

  auto reaped = pyro_json({"workspace", "reap"});
  CHECK(reaped["deleted"] == json::array({doomed}));
  CHECK(state_in_list(*this, doomed) == "absent");
  CHECK(test::leaks(*this, doomed).empty());
  CHECK(state_in_list(*this, kept) == "started");
  CHECK(state_in_list(*this, forever) == "started");
}
