#include "vmm/environments/registry_client.hpp"

#include <fstream>
#include <map>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "messages/sys/file_lock.hpp"
#include "vmm/environments/sha256.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

const char* manifest_accept
  = "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

bool local_host(std::string_view host) {
  auto name = host.substr(0, host.find(':'));
  return name == "127.0.0.1" || name == "localhost";
}

error http_error(const std::string& what, long status,
                 const std::string& body) {
  auto code = status == 404   ? error_code::not_found
              : status == 401 || status == 403
                ? error_code::failed_precondition
                : error_code::unavailable;
  return make_error(code,
                    what + " failed: HTTP " + std::to_string(status) + " "
                      + body.substr(0, 200),
                    status == 401 || status == 403
                      ? "set PYRO_REGISTRY_TOKEN to a token the registry "
                        "accepts"
                      : "check that the registry is reachable and holds "
                        "the image");
}

std::string trim(std::string s) {
  while (!s.empty()
         && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

size_t header_cb(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string key = line.substr(0, colon);
    for (auto& c : key)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    (*headers)[key] = trim(value);
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers->clear(); // a new response after a redirect
  }
  return size * n;
}

struct write_state {
  std::string* body;
  const std::function<bool(std::string_view)>* sink;
};

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<write_state*>(user);
  std::string_view chunk(data, size * n);
  if (*st->sink && !(*st->sink)(chunk))
    return 0;
  if (!*st->sink)
    st->body->append(chunk);
  return size * n;
}

// Challenge parameters: realm="...",service="...",scope="..."
std::map<std::string, std::string> challenge_params(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t i = text.find(' ');
  while (i != std::string::npos && i < text.size()) {
    i = text.find_first_not_of(" ,", i);
    if (i == std::string::npos)
      break;
    auto eq = text.find('=', i);
    if (eq == std::string::npos)
      break;
    auto key = text.substr(i, eq - i);
    std::string value;
    size_t j = eq + 1;
    if (j < text.size() && text[j] == '"') {
      auto end = text.find('"', j + 1);
      value = text.substr(j + 1, end - j - 1);
      i = end == std::string::npos ? end : end + 1;
    } else {
      auto end = text.find(',', j);
      value = text.substr(j, end - j);
      i = end;
    }
    out[key] = value;
  }
  return out;
}

std::string url_escape(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace

result<registry_reference> parse_registry_reference(std::string_view text) {
  std::string s{text};
  std::string scheme;
  if (auto p = s.find("://"); p != std::string::npos) {
    scheme = s.substr(0, p);
    s = s.substr(p + 3);
  }
  auto slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size())
    return make_error(error_code::invalid_argument,
                      "registry reference '" + std::string{text}
                        + "' has no host or repository",
                      "write it as HOST[:PORT]/REPOSITORY[:TAG], e.g. "
                      "127.0.0.1:5000/pyro/busybox:latest");
  registry_reference ref;
  auto host = s.substr(0, slash);
  if (scheme.empty())
    scheme = local_host(host) ? "http" : "https";
  ref.base_url = scheme + "://" + host;
  auto rest = s.substr(slash + 1);
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.repository = rest.substr(0, at);
    ref.reference = rest.substr(at + 1);
  } else if (auto colon = rest.rfind(':');
             colon != std::string::npos
             && rest.find('/', colon) == std::string::npos) {
    ref.repository = rest.substr(0, colon);
    ref.reference = rest.substr(colon + 1);
  } else {
    ref.repository = rest;
  }
  if (ref.repository.empty() || ref.reference.empty())
    return make_error(error_code::invalid_argument,
                      "registry reference '" + std::string{text}
                        + "' has an empty repository or tag",
                      "write it as HOST[:PORT]/REPOSITORY[:TAG]");
  return ref;
}

registry_client::registry_client(std::string base_url, std::string token)
  : base_url_(std::move(base_url)), token_(std::move(token)), bearer_(token_) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

std::string registry_client::absolute(const std::string& location) const {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0)
    return location;
  return base_url_ + location;
}

result<registry_client::response>
registry_client::perform(const request& req) {
  CURL* curl = curl_easy_init();
  if (!curl)
    return make_error(error_code::internal, "curl_easy_init failed");
  response resp;
  std::map<std::string, std::string> headers;
  write_state ws{&resp.body, &req.sink};
  curl_slist* list = nullptr;
  for (const auto& h : req.headers)
    list = curl_slist_append(list, h.c_str());
  if (!bearer_.empty())
    list = curl_slist_append(list,
                             ("Authorization: Bearer " + bearer_).c_str());
  FILE* upload = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ws);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
  // Abort a transfer that stalls rather than hang a pull forever.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.upload_file) {
    upload = std::fopen(req.upload_file->c_str(), "rb");
    if (!upload) {
      curl_slist_free_all(list);
      curl_easy_cleanup(curl);
      return make_error(error_code::not_found,
                        "cannot open " + req.upload_file->string());
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READDATA, upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(fs::file_size(*req.upload_file)));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req.body.size()));
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (upload)
    std::fclose(upload);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && resp.status >= 400))
    return make_error(error_code::unavailable,
                      req.method + " " + req.url + " failed: "
                        + curl_easy_strerror(rc),
                      "check that the registry is reachable");
  resp.content_type = headers["content-type"];
  resp.location = headers["location"];
  resp.www_authenticate = headers["www-authenticate"];
  resp.docker_content_digest = headers["docker-content-digest"];
  return resp;
}

status registry_client::fetch_token(const std::string& challenge) {
  auto params = challenge_params(challenge);
  if (params["realm"].empty())
    return make_error(error_code::failed_precondition,
                      "registry asked for a bearer token without a realm: "
                        + challenge,
                      "check the registry's auth configuration");
  std::string url = params["realm"];
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (!params["service"].empty()) {
    url += sep + std::string{"service="} + url_escape(params["service"]);
    sep = '&';
  }
  if (!params["scope"].empty())
    url += sep + std::string{"scope="} + url_escape(params["scope"]);
  bearer_ = token_;
  request req;
  req.url = url;
  auto resp = perform(req);
  if (!resp)
    return resp.err();
  if (resp->status != 200)
    return http_error("token request to " + params["realm"], resp->status,
                      resp->body);
  auto doc = nlohmann::json::parse(resp->body, nullptr, false);
  std::string token;
  if (doc.is_object())
    token = doc.value("token", doc.value("access_token", std::string{}));
  if (token.empty())
    return make_error(error_code::unavailable,
                      "token realm " + params["realm"] + " returned no token",
                      "check the registry's auth configuration");
  bearer_ = token;
  return {};
}

result<registry_client::response> registry_client::send(const request& req) {
  auto resp = perform(req);
  if (!resp || resp->status != 401)
    return resp;
  if (resp->www_authenticate.rfind("Bearer", 0) != 0)
    return resp;
  if (auto st = fetch_token(resp->www_authenticate); !st)
    return st.err();
  return perform(req);
}

result<fetched_manifest>
registry_client::get_manifest(const std::string& repository,
                              const std::string& reference) {
  request req;
  req.url = base_url_ + "/v2/" + repository + "/manifests/" + reference;
  req.headers.push_back(manifest_accept);
  auto resp = send(req);
  if (!resp)
    return resp.err();
  if (resp->status != 200)
    return http_error("manifest " + repository + ":" + reference,
                      resp->status, resp->body);
  fetched_manifest out;
  out.body = resp->body;
  out.media_type = resp->content_type.substr(0, resp->content_type.find(';'));
  out.digest = sha256_of(out.body);
  if (reference.rfind("sha256:", 0) == 0 && reference != out.digest)
    return make_error(error_code::unavailable,
                      "manifest digest mismatch: expected " + reference
                        + ", got " + out.digest,
                      "the registry served corrupted data; try again or "
                      "re-push the environment");
  return out;
}

status registry_client::fetch_blob(const std::string& repository,
                                   const std::string& digest,
                                   const fs::path& target,
                                   const std::function<void(uint64_t)>&
                                     on_bytes) {
  std::error_code ec;
  if (fs::exists(target, ec))
    return {};
  if (digest.rfind("sha256:", 0) != 0)
    return make_error(error_code::invalid_argument,
                      "unsupported digest " + digest,
                      "only sha256 digests are supported");
  fs::create_directories(target.parent_path(), ec);
  // Two pulls sharing the cache must not append to one partial file at
  // once: the second waits, then finds the blob there.
  auto lock = sys::file_lock::acquire(target.string() + ".lock",
                                      std::chrono::hours{1});
  if (!lock)
    return lock.err();
  if (fs::exists(target, ec))
    return {};
  return download_blob(repository, digest, target, on_bytes);
}

status registry_client::download_blob(
  const std::string& repository, const std::string& digest,
  const fs::path& target, const std::function<void(uint64_t)>& on_bytes) {
  std::error_code ec;
  auto partial = fs::path{target.string() + ".partial"};
  // Hash what an earlier, interrupted download left, then ask for the rest.
  sha256 hash;
  uint64_t have = 0;
  {
    std::ifstream in{partial, std::ios::binary};
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      hash.update({buf, static_cast<size_t>(in.gcount())});
      have += static_cast<uint64_t>(in.gcount());
    }
  }
  std::ofstream out{partial, std::ios::binary | std::ios::app};
  if (!out)
    return make_error(error_code::internal,
                      "cannot write " + partial.string(),
                      "check permissions of the environment cache");
  uint64_t total = have;
  bool ranged = have > 0;
  request req;
  req.url = base_url_ + "/v2/" + repository + "/blobs/" + digest;
  if (ranged)
    req.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
  req.sink = [&](std::string_view chunk) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(chunk);
    total += chunk.size();
    if (on_bytes)
      on_bytes(total);
    return static_cast<bool>(out);
  };
  auto resp = send(req);
  out.close();
  if (!resp)
    return resp.err();
  if (ranged && resp->status == 200) {
    // The registry ignored Range and sent everything: start over.
    fs::remove(partial, ec);
    return download_blob(repository, digest, target, on_bytes);
  }
  if (ranged && resp->status == 416) {
    // Nothing left to fetch: the partial file may already be whole.
  } else if (resp->status != 200 && resp->status != 206) {
    fs::remove(partial, ec);
    return http_error("blob " + digest, resp->status, resp->body);
  }
  auto got = "sha256:" + hash.hex();
  if (got != digest) {
    fs::remove(partial, ec);
    return make_error(error_code::unavailable,
                      "blob digest mismatch: expected " + digest + ", got "
                        + got + " (" + std::to_string(total) + " bytes)",
                      "the registry served corrupted data; re-push the "
                      "environment or pull from another registry");
  }
  fs::rename(partial, target, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot move blob into the cache: " + ec.message());
  return {};
}

status registry_client::push_blob(const std::string& repository,
                                  const std::string& digest,
                                  const fs::path& file) {
  request head;
  head.method = "HEAD";
  head.url = base_url_ + "/v2/" + repository + "/blobs/" + digest;
  auto exists = send(head);
  if (!exists)
    return exists.err();
  if (exists->status == 200)
    return {};
  request start;
  start.method = "POST";
  start.url = base_url_ + "/v2/" + repository + "/blobs/uploads/";
  auto started = send(start);
  if (!started)
    return started.err();
  if (started->status != 202 || started->location.empty())
    return http_error("starting upload of " + digest, started->status,
                      started->body);
  auto url = absolute(started->location);
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "digest=" + url_escape(digest);
  request put;
  put.method = "PUT";
  put.url = url;
  put.upload_file = &file;
  put.headers.push_back("Content-Type: application/octet-stream");
  auto done = send(put);
  if (!done)
    return done.err();
  if (done->status != 201)
    return http_error("uploading " + digest, done->status, done->body);
  return {};
}

status registry_client::put_manifest(const std::string& repository,
                                     const std::string& reference,
                                     const std::string& body,
                                     const std::string& media_type) {
  request put;
  put.method = "PUT";
  put.url = base_url_ + "/v2/" + repository + "/manifests/" + reference;
  put.body = body;
  put.headers.push_back("Content-Type: " + media_type);
  auto done = send(put);
  if (!done)
    return done.err();
  if (done->status != 201)
    return http_error("putting manifest " + repository + ":" + reference,
                      done->status, done->body);
  return {};
}

} // namespace pyro::vmm
