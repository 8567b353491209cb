#include "actors/agent_link.hpp"

#include <cstdio>
#include <fstream>

#include "messages/wire/agent_client.hpp"
#include "messages/wire/byte_names.hpp"

namespace pyro {

namespace {

using nlohmann::json;

constexpr size_t upload_chunk = 1u << 20;

// A reply field of the expected type, or `fallback`: the guest is not
// trusted, and a field of the wrong type must not take pyro down.
template <class T>
T field(const json& j, const char* key, T fallback) {
  auto i = j.find(key);
  if (i == j.end())
    return fallback;
  try {
    return i->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

std::string field(const json& j, const char* key, const char* fallback) {
  return field<std::string>(j, key, fallback);
}

// agent_link over the wire protocol (docs/protocol.md).
class wire_link final : public agent_link {
public:
  wire_link(std::string socket, int vsock_port, int peer_pid)
    : client_(std::move(socket), std::chrono::seconds{5}, vsock_port,
              peer_pid) {
    // nop
  }

  result<exec_outcome> exec(const exec_request& r) override {
    json env = json::object();
    for (const auto& [k, v] : r.env)
      env[k] = v;
    // The host waits a little longer than the agent lets the command run.
    auto limit = std::chrono::seconds{r.timeout_seconds + 30};
    json request{{"cwd", r.cwd},
                 {"env", env},
                 {"secret_env", r.secret_env_map},
                 {"cancel_tag", r.cancel_tag},
                 {"timeout_seconds", r.timeout_seconds}};
    wire::put_bytes(request, "command", r.command); // a command is bytes
    auto reply = client_.call("exec", request, nullptr, nullptr, limit);
    if (!reply)
      return reply.err();
    exec_outcome o;
    o.exit_code = field(*reply, "exit_code", -1);
    o.signal = field(*reply, "signal", 0);
    o.timed_out = field(*reply, "timed_out", false);
    o.stdout_text = field(*reply, "stdout", "");
    o.stderr_text = field(*reply, "stderr", "");
    o.truncated = field(*reply, "truncated", false);
    o.duration_ms = field(*reply, "duration_ms", int64_t{0});
    return o;
  }

  status import_tar(const std::filesystem::path& tar, const std::string& dest,
                    size_t strip_components) override {
    std::ifstream in{tar, std::ios::binary};
    if (!in)
      return make_error(error_code::internal, "cannot read " + tar.string());
    wire::chunk_source source = [&]() -> result<std::string> {
      std::string chunk(upload_chunk, '\0');
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      chunk.resize(static_cast<size_t>(in.gcount()));
      return chunk;
    };
    auto reply = client_.call(
      "import", {{"dest", dest}, {"strip_components", strip_components}},
      &source);
    if (!reply)
      return reply.err();
    return {};
  }

  result<export_outcome> export_tar(const std::string& path,
                                    const std::filesystem::path& out) override {
    std::ofstream file{out, std::ios::binary | std::ios::trunc};
    if (!file)
      return make_error(error_code::internal, "cannot write " + out.string());
    wire::chunk_sink sink = [&](std::string_view bytes) -> status {
      file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!file)
        return make_error(error_code::resource_exhausted,
                          "cannot write " + out.string());
      return {};
    };
    auto reply = client_.call("export", {{"path", path}}, nullptr, &sink);
    file.close();
    if (!reply) {
      std::error_code ec;
      std::filesystem::remove(out, ec);
      return reply.err();
    }
    export_outcome outcome{
      field(*reply, "artifact_type", ""),
      field(*reply, "entry_count", uint64_t{0}),
      field(*reply, "bytes", uint64_t{0}),
      field(*reply, "skipped_count", uint64_t{0}),
      field(*reply, "skipped", std::vector<std::string>{})};
    // The guest's list is untrusted: keep it as short as the agent's own.
    if (outcome.skipped.size() > 100)
      outcome.skipped.resize(100);
    return outcome;
  }

  result<manifest> walk() override {
    std::string text;
    wire::chunk_sink sink = [&](std::string_view bytes) -> status {
      text.append(bytes);
      return {};
    };
    auto reply = client_.call("manifest", json::object(), nullptr, &sink);
    if (!reply)
      return reply.err();
    return manifest_from_json(json::parse(text, nullptr, false));
  }

  result<std::vector<file_info>> list(const std::string& path,
                                      bool recursive) override {
    auto reply
      = client_.call("list", {{"path", path}, {"recursive", recursive}});
    if (!reply)
      return reply.err();
    std::vector<file_info> out;
    for (const auto& e : field(*reply, "entries", json::array())) {
      file_info f;
      f.path = field(e, "path", "");
      f.type = field(e, "type", "");
      f.mode = field(e, "mode", 0u);
      f.size = field(e, "size", uint64_t{0});
      if (auto l = e.find("link_target"); l != e.end() && l->is_string())
        f.link_target = l->get<std::string>();
      out.push_back(std::move(f));
    }
    return out;
  }

  result<std::pair<std::string, bool>> read_file(const std::string& path,
                                                 uint64_t max_bytes) override {
    std::string content;
    wire::chunk_sink sink = [&](std::string_view bytes) -> status {
      content.append(bytes);
      return {};
    };
    json request{{"max_bytes", max_bytes}};
    wire::put_bytes(request, "path", path);
    auto reply = client_.call("read", request, nullptr, &sink);
    if (!reply)
      return reply.err();
    return std::pair{std::move(content), field(*reply, "truncated", false)};
  }

  status write_file(const std::string& path,
                    std::string_view content) override {
    size_t offset = 0;
    wire::chunk_source source = [&]() -> result<std::string> {
      if (offset >= content.size())
        return std::string{};
      auto chunk = content.substr(offset, upload_chunk);
      offset += chunk.size();
      return std::string{chunk};
    };
    auto reply = client_.call("write", {{"path", path}}, &source);
    if (!reply)
      return reply.err();
    return {};
  }

  status remove(const std::string& path) override {
    auto reply = client_.call("delete", {{"path", path}});
    if (!reply)
      return reply.err();
    return {};
  }

  result<json> call(const std::string& op, const json& args,
                    std::chrono::milliseconds timeout) override {
    return client_.call(op, args, nullptr, nullptr, timeout);
  }

private:
  wire::agent_client client_;
};

} // namespace

result<std::unique_ptr<agent_link>>
connect_agent(const vmm::agent_endpoint& endpoint) {
  return std::unique_ptr<agent_link>{
    std::make_unique<wire_link>(endpoint.socket.string(), endpoint.vsock_port,
                                endpoint.peer_pid)};
}

} // namespace pyro
