#include "vmm/sandbox/workspace_disk.hpp"

#include <unistd.h>

#include "vmm/child_process.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path find_mke2fs() {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    auto candidate = fs::path{dir} / "mke2fs";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

} // namespace

fs::path disk_image_path(const fs::path& layers) {
  return layers / "disk.img";
}

bool disk_limits_enforceable() {
  return ::geteuid() == 0 && ::access("/dev/loop-control", R_OK | W_OK) == 0
         && !find_mke2fs().empty();
}

status make_disk_image(const fs::path& image, int disk_mib) {
  std::error_code ec;
  if (fs::exists(image, ec))
    return {};
  auto mke2fs = find_mke2fs();
  if (mke2fs.empty())
    return make_error(error_code::failed_precondition,
                      "a workspace disk needs mke2fs, which is not installed",
                      "install e2fsprogs (scripts/setup does)");
  auto staged = fs::path{image.string() + ".new"};
  auto tree = fs::path{image.string() + ".tree"};
  fs::remove(staged, ec);
  fs::remove_all(tree, ec);
  fs::create_directories(tree / "upper", ec);
  fs::create_directories(tree / "work", ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot prepare the workspace disk: " + ec.message());
  // Sparse and lazily initialised: its size is room the workspace may grow
  // into, not bytes or time spent now. The journal is not zeroed: the new
  // file's holes already read as zeroes.
  auto ran = run_helper({mke2fs.string(), "-q", "-F", "-t", "ext4", "-m", "0",
                         "-L", "pyro-workspace", "-E",
                         "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                         "-d", tree.string(), staged.string(),
                         std::to_string(disk_mib) + "M"},
                        60s);
  fs::remove_all(tree, ec);
  if (!ran || ran->exit_code != 0) {
    fs::remove(staged, ec);
    return make_error(error_code::internal,
                      "cannot make the workspace disk: "
                        + (ran ? ran->err : ran.err().message));
  }
  fs::rename(staged, image, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot install the workspace disk: " + ec.message());
  return {};
}

} // namespace pyro::vmm
