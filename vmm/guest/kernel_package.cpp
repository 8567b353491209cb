#include "vmm/guest/kernel_package.hpp"

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/file_lock.hpp"
#include "messages/sys/home_dirs.hpp"
#include "vmm/child_process.hpp"
#include "vmm/guest/shell.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What a guest needs from the package: the kernel and the modules the
// initramfs loads (vmm/guest/initramfs.cpp), with their dependencies.
const char* const wanted_members[] = {
  "./boot/vmlinuz-*",
  "./lib/modules/*/kernel/drivers/virtio",
  "./lib/modules/*/kernel/drivers/block/virtio_blk.ko",
  "./lib/modules/*/kernel/drivers/char/virtio_console.ko",
  "./lib/modules/*/kernel/fs/ext4",
  "./lib/modules/*/kernel/fs/jbd2",
  "./lib/modules/*/kernel/fs/mbcache.ko",
  "./lib/modules/*/kernel/crypto/crc32c_generic.ko",
  "./lib/modules/*/kernel/lib/crc16.ko",
  "./lib/modules/*/kernel/net/vmw_vsock",
};

// The versioned package the linux-image-amd64 metapackage points at now.
result<std::string> current_kernel_package(const fs::path& scratch) {
  auto out = scratch / "depends.txt";
  auto ran
    = run_shell("apt-cache depends linux-image-amd64 > " + shell_quote(out),
                std::chrono::minutes{1});
  if (!ran)
    return ran.err();
  std::ifstream in{out};
  for (std::string word; in >> word;)
    if (word.rfind("linux-image-", 0) == 0 && word != "linux-image-amd64")
      return word;
  return make_error(error_code::unavailable,
                    "apt knows no package behind linux-image-amd64",
                    "run apt-get update, or set PYRO_GUEST_KERNEL_DEB to a "
                    "downloaded Debian kernel package");
}

result<fs::path> download_package(const std::string& package,
                                  const fs::path& scratch) {
  auto ran = run_shell("cd " + shell_quote(scratch) + " && apt-get download -q "
                         + shell_quote(package),
                       std::chrono::minutes{10});
  if (!ran)
    return ran.err();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(scratch, ec))
    if (e.path().extension() == ".deb")
      return e.path();
  return make_error(error_code::unavailable,
                    "apt-get download " + package + " left no package file");
}

result<guest_kernel> read_cached(const fs::path& dir) {
  auto text = sys::read_file(dir / "kernel.json");
  if (!text)
    return text.err();
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("release"))
    return make_error(error_code::internal,
                      "corrupt " + (dir / "kernel.json").string());
  return guest_kernel{j.value("package", ""), j.value("release", ""), dir};
}

result<guest_kernel>
unpack(const fs::path& deb, const std::string& package, const fs::path& dir,
       const std::function<void(const std::string&)>& say) {
  std::error_code ec;
  auto staging = dir.parent_path()
                 / (".staging-" + dir.filename().string() + "-"
                    + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  fs::create_directories(staging / "tree", ec);
  say("[pull] phase=kernel-unpack package=" + package);
  std::string members;
  for (const char* m : wanted_members)
    members += " " + shell_quote(m);
  if (auto ran = run_shell("dpkg-deb --fsys-tarfile " + shell_quote(deb)
                             + " | tar -x -C " + shell_quote(staging / "tree")
                             + " --wildcards" + members,
                           std::chrono::minutes{5});
      !ran)
    return ran.err();
  fs::path vmlinuz;
  for (const auto& e : fs::directory_iterator(staging / "tree" / "boot", ec))
    vmlinuz = e.path();
  std::string release;
  for (const auto& e :
       fs::directory_iterator(staging / "tree" / "lib" / "modules", ec))
    release = e.path().filename().string();
  if (vmlinuz.empty() || release.empty())
    return make_error(error_code::invalid_argument,
                      deb.string() + " holds no kernel image and modules");
  if (auto ok = extract_vmlinux(vmlinuz, staging / "vmlinux"); !ok)
    return ok.err();
  fs::rename(staging / "tree" / "lib" / "modules" / release,
             staging / "modules", ec);
  fs::remove_all(staging / "tree", ec);
  json info{{"package", package}, {"release", release}};
  if (auto w = sys::write_file_atomic(staging / "kernel.json", info.dump(2));
      !w)
    return w.err();
  fs::remove_all(dir, ec);
  fs::rename(staging, dir, ec);
  if (ec)
    return make_error(error_code::internal, "cannot install the kernel in "
                                              + dir.string() + ": "
                                              + ec.message());
  return read_cached(dir);
}

} // namespace

fs::path kernel_cache_dir() {
  if (const char* dir = std::getenv("PYRO_KERNEL_CACHE_DIR"); dir && *dir)
    return dir;
  return sys::user_cache_home() / "pyro" / "kernels";
}

status extract_vmlinux(const fs::path& vmlinuz, const fs::path& vmlinux) {
  auto image = sys::read_file(vmlinuz);
  if (!image)
    return image.err();
  static const std::string xz_magic{"\xFD"
                                    "7zXZ\0",
                                    6};
  auto at = image->find(xz_magic);
  if (at == std::string::npos)
    return make_error(error_code::invalid_argument,
                      vmlinuz.string() + " holds no XZ-compressed kernel");
  auto payload = vmlinux.string() + ".xz";
  if (auto w = sys::write_file_atomic(payload, image->substr(at)); !w)
    return w;
  // The payload is followed by the rest of the bzImage: one stream only.
  auto ran = run_shell("xz -dc --single-stream " + shell_quote(payload) + " > "
                         + shell_quote(vmlinux),
                       std::chrono::minutes{2});
  std::error_code ec;
  fs::remove(payload, ec);
  if (!ran)
    return ran.err();
  std::ifstream in{vmlinux, std::ios::binary};
  char magic[4] = {};
  in.read(magic, 4);
  if (std::string(magic, 4)
      != "\x7f"
         "ELF")
    return make_error(error_code::invalid_argument,
                      "the kernel in " + vmlinuz.string()
                        + " did not decompress to an ELF image");
  return {};
}

result<guest_kernel>
ensure_guest_kernel(const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress)
      progress(line);
  };
  auto cache = kernel_cache_dir();
  std::error_code ec;
  fs::create_directories(cache, ec);
  auto lock
    = sys::file_lock::acquire(cache / ".lock", std::chrono::minutes{20});
  if (!lock)
    return lock.err();
  auto scratch = cache / (".scratch-" + std::to_string(::getpid()));
  fs::remove_all(scratch, ec);
  fs::create_directories(scratch, ec);
  struct cleanup {
    fs::path dir;
    ~cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove_scratch{scratch};

  fs::path deb;
  std::string package;
  if (const char* local = std::getenv("PYRO_GUEST_KERNEL_DEB");
      local && *local) {
    deb = local;
    package = deb.stem().string().substr(0, deb.stem().string().find('_'));
  } else {
    auto current = current_kernel_package(scratch);
    if (!current)
      return current.err();
    package = *current;
  }
  auto dir = cache / package;
  if (auto cached = read_cached(dir); cached)
    return cached;
  if (deb.empty()) {
    say("[pull] phase=kernel-download package=" + package);
    auto fetched = download_package(package, scratch);
    if (!fetched)
      return fetched.err();
    deb = *fetched;
  }
  return unpack(deb, package, dir, say);
}

} // namespace pyro::vmm
