// The per-workspace disk copy: same bytes, holes kept, never half there.

#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>

#include "fixtures.hpp"
#include "vmm/firecracker/disk_copy.hpp"

using namespace pyro;
using namespace pyro::vmm::firecracker;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

long long allocated_bytes(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<long long>(st.st_blocks) * 512;
}

// 64 MiB with data at 0, at 40 MiB and a zero-filled (but allocated) MiB at
// 20 MiB: everything else is a hole.
void make_sparse_image(const fs::path& p) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  std::string head(4096, 'h');
  std::string middle(100000, 'm');
  std::string zeros(1 << 20, '\0');
  REQUIRE(::pwrite(fd, head.data(), head.size(), 0) == 4096);
  REQUIRE(::pwrite(fd, zeros.data(), zeros.size(), 20 << 20)
          == static_cast<ssize_t>(zeros.size()));
  REQUIRE(::pwrite(fd, middle.data(), middle.size(), 40 << 20) == 100000);
  REQUIRE(::ftruncate(fd, 64 << 20) == 0);
  ::close(fd);
}

} // namespace

TEST_CASE("disk copy: same bytes and size, holes stay holes") {
  test::temp_dir dir;
  auto from = dir.path() / "rootfs.ext4";
  auto to = dir.path() / "copy.ext4";
  make_sparse_image(from);
  auto method = copy_disk_image(from, to);
  INFO((method ? std::string{} : to_string(method.err())));
  REQUIRE(method);
  CHECK(fs::file_size(to) == 64u << 20);
  CHECK(slurp(to) == slurp(from));
  CHECK_FALSE(fs::exists(dir.path() / "copy.ext4.part"));
  if (*method == copy_method::sparse) {
    // The zero MiB the source has allocated is left out too
    // (--sparse=always); what remains is the data, in whole blocks.
    CHECK(allocated_bytes(to) <= 512 << 10);
  } else {
    SUCCEED("reflinked: the file system shares the source's blocks");
  }
}

TEST_CASE("disk copy: replaces an earlier copy only once complete") {
  test::temp_dir dir;
  auto from = dir.path() / "rootfs.ext4";
  auto to = dir.path() / "copy.ext4";
  std::ofstream{from} << "new image";
  std::ofstream{to} << "old";
  std::ofstream{dir.path() / "copy.ext4.part"} << "left by a killed copy";
  REQUIRE(copy_disk_image(from, to));
  CHECK(slurp(to) == "new image");
  CHECK_FALSE(fs::exists(dir.path() / "copy.ext4.part"));
}

TEST_CASE("disk copy: a missing image is not_found, naming it") {
  test::temp_dir dir;
  auto from = dir.path() / "missing.ext4";
  auto copied = copy_disk_image(from, dir.path() / "copy.ext4");
  REQUIRE_FALSE(copied);
  CHECK(copied.err().code == error_code::not_found);
  CHECK(copied.err().message.find(from.string()) != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / "copy.ext4"));
}
