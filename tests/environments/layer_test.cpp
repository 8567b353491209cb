#include <catch2/catch.hpp>

#include <fstream>

#include <archive.h>
#include <archive_entry.h>

#include "tests/unit/temp_dir.hpp"
#include "vmm/environments/oci_manifest.hpp"
#include "vmm/environments/registry_client.hpp"
#include "vmm/environments/rootfs_layer.hpp"
#include "vmm/environments/sha256.hpp"

namespace fs = std::filesystem;
using namespace pyro;

namespace {

// A tar with one entry of the given name/type, as an attacker would craft.
void write_tar(const fs::path& out, const std::string& name,
               const std::string& hardlink = "") {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, out.c_str());
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  if (!hardlink.empty()) {
    archive_entry_set_hardlink(e, hardlink.c_str());
    archive_entry_set_size(e, 0);
    archive_write_header(a, e);
  } else {
    archive_entry_set_size(e, 4);
    archive_write_header(a, e);
    archive_write_data(a, "evil", 4);
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

} // namespace

TEST_CASE("environments sha256 matches known vectors") {
  CHECK(vmm::sha256_of("")
        == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
           "7852b855");
  CHECK(vmm::sha256_of("abc")
        == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
           "f20015ad");
  vmm::sha256 h;
  for (int i = 0; i < 1000; ++i)
    h.update(std::string(1000, 'a'));
  CHECK(h.hex()
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("environments registry references parse host, repo and tag") {
  auto r = vmm::parse_registry_reference("127.0.0.1:5000/pyro/busybox:latest");
  REQUIRE(r);
  CHECK(r->base_url == "http://127.0.0.1:5000");
  CHECK(r->repository == "pyro/busybox");
  CHECK(r->reference == "latest");
  auto s = vmm::parse_registry_reference("registry.example/pyro/debian");
  REQUIRE(s);
  CHECK(s->base_url == "https://registry.example");
  CHECK(s->reference == "latest");
  auto d = vmm::parse_registry_reference(
    "http://h:1/a/b@sha256:00");
  REQUIRE(d);
  CHECK(d->reference == "sha256:00");
  CHECK(d->repository == "a/b");
  CHECK_FALSE(vmm::parse_registry_reference("busybox"));
}

TEST_CASE("environments index resolves to linux/amd64") {
  std::string digest = "sha256:" + std::string(64, 'a');
  std::string other = "sha256:" + std::string(64, 'b');
  std::string index = R"({"schemaVersion":2,"manifests":[
    {"digest":")" + other + R"(","size":1,"platform":
      {"os":"linux","architecture":"arm64"}},
    {"digest":")" + digest + R"(","size":1,"platform":
      {"os":"linux","architecture":"amd64"}}]})";
  for (auto type : {vmm::oci_index_type, vmm::docker_list_type}) {
    auto p = vmm::parse_manifest(index, type);
    REQUIRE(p);
    CHECK(p->is_index);
    CHECK(p->platform_digest == digest);
  }
  std::string docker = R"({"schemaVersion":2,"mediaType":")"
                       + std::string{vmm::docker_manifest_type}
                       + R"(","config":{"digest":")" + digest
                       + R"(","size":3},"layers":[{"digest":")" + other
                       + R"(","size":5}]})";
  auto m = vmm::parse_manifest(docker, "");
  REQUIRE(m);
  CHECK_FALSE(m->is_index);
  CHECK(m->manifest.layers.at(0).digest == other);
  auto arm = vmm::parse_manifest(
    R"({"manifests":[{"digest":")" + other
      + R"(","platform":{"os":"linux","architecture":"arm64"}}]})",
    vmm::oci_index_type);
  REQUIRE_FALSE(arm);
  CHECK(arm.err().code == error_code::not_found);
}

TEST_CASE("environments layer extraction refuses entries escaping root") {
  test::temp_dir dir;
  auto root = dir.path() / "root";
  for (const std::string name :
       {"../escape", "/abs/escape", "a/../../escape"}) {
    auto tar = dir.path() / "evil.tar";
    write_tar(tar, name);
    auto st = vmm::extract_rootfs_layer(tar, root);
    REQUIRE_FALSE(st);
    CHECK(st.err().message.find("escapes the rootfs") != std::string::npos);
  }
  auto tar = dir.path() / "link.tar";
  write_tar(tar, "x", "../../etc/passwd");
  auto st = vmm::extract_rootfs_layer(tar, root);
  REQUIRE_FALSE(st);
  CHECK(!fs::exists(dir.path() / "escape"));
  CHECK(!fs::exists("/abs/escape"));
}

TEST_CASE("environments layer extraction refuses writing through a symlink") {
  test::temp_dir dir;
  auto root = dir.path() / "root";
  auto outside = dir.path() / "outside";
  fs::create_directories(outside);
  archive* a = archive_write_new();
  auto tar = dir.path() / "sym.tar";
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, tar.c_str());
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "link");
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_symlink(e, outside.c_str());
  archive_entry_set_perm(e, 0777);
  archive_write_header(a, e);
  archive_entry_clear(e);
  archive_entry_set_pathname(e, "link/pwned");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 1);
  archive_write_header(a, e);
  archive_write_data(a, "x", 1);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  auto st = vmm::extract_rootfs_layer(tar, root);
  CHECK_FALSE(st);
  CHECK(!fs::exists(outside / "pwned"));
}
