#include "vmm/environment_install.hpp"

#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "messages/sys/clock.hpp"
#include "messages/sys/file_lock.hpp"
#include "vmm/agent_binary.hpp"
#include "vmm/child_process.hpp"
#include "vmm/environments/catalog.hpp"
#include "vmm/environments/registry_install.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/guest/vm_images.hpp"
#include "vmm/host_facts.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* staging_prefix = ".staging-";

std::string safe_name(std::string_view name) {
  return environment_install_dir(name).filename().string();
}

status build_busybox(const fs::path& rootfs) {
  std::error_code ec;
  const fs::path busybox = "/bin/busybox";
  if (!fs::exists(busybox))
    return make_error(error_code::failed_precondition,
                      "/bin/busybox is missing",
                      "install Debian's busybox-static package");
  auto agent = agent_binary();
  if (!agent)
    return agent.err();
  for (const char* d : {"bin", "workspace", "tmp", "etc", "root", "proc", "sys",
                        "dev", "run", "usr/lib/pyro"})
    fs::create_directories(rootfs / d, ec);
  fs::copy_file(busybox, rootfs / "bin" / "busybox",
                fs::copy_options::overwrite_existing, ec);
  if (ec)
    return make_error(error_code::internal,
                      "cannot copy busybox: " + ec.message());
  // run_helper captures stderr only: the applet list comes via a file.
  auto list_file = rootfs / "tmp" / ".applets";
  auto listed = run_helper(
    {"/bin/sh", "-c", busybox.string() + " --list > " + list_file.string()},
    std::chrono::seconds{10});
  if (!listed || listed->exit_code != 0)
    return make_error(error_code::internal, "busybox --list failed");
  std::ifstream names{list_file};
  for (std::string name; std::getline(names, name);)
    if (!name.empty() && name != "busybox")
      fs::create_symlink("busybox", rootfs / "bin" / name, ec);
  fs::remove(list_file, ec);
  fs::copy_file(*agent, rootfs / "usr" / "lib" / "pyro" / "pyro-agent",
                fs::copy_options::overwrite_existing, ec);
  std::ofstream{rootfs / "etc" / "passwd"} << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream{rootfs / "etc" / "group"} << "root:x:0:\n";
  std::ofstream{rootfs / "etc" / "hostname"} << "pyro\n";
  return {};
}

// The host's apt sources for bookworm, passed to mmdebstrap as files so the
// environment is built from the same mirror the host uses.
std::vector<std::string> host_sources() {
  std::vector<std::string> out;
  std::error_code ec;
  auto consider = [&](const fs::path& p) {
    std::ifstream in{p};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    if (text.find("bookworm") != std::string::npos)
      out.push_back(p.string());
  };
  if (fs::exists("/etc/apt/sources.list"))
    consider("/etc/apt/sources.list");
  for (const auto& e : fs::directory_iterator("/etc/apt/sources.list.d", ec)) {
    auto ext = e.path().extension();
    if (ext == ".list" || ext == ".sources")
      consider(e.path());
  }
  return out;
}

status build_debian(const environment_spec& spec, const fs::path& rootfs,
                    const pull_progress& progress) {
  if (find_executable("mmdebstrap").empty())
    return make_error(error_code::failed_precondition,
                      "mmdebstrap is not installed",
                      "install Debian's mmdebstrap package");
  auto sources = host_sources();
  if (sources.empty())
    return make_error(error_code::failed_precondition,
                      "the host has no apt sources for bookworm",
                      "configure /etc/apt/sources.list(.d) or use a "
                      "registry (PYRO_REGISTRY)");
  std::string include;
  for (const auto& p : spec.packages)
    include += (include.empty() ? "" : ",") + p;
  std::vector<std::string> argv
    = {find_executable("mmdebstrap"), "--quiet",  "--variant=" + spec.variant,
       "--include=" + include,        "bookworm", rootfs.string()};
  argv.insert(argv.end(), sources.begin(), sources.end());
  if (progress)
    progress("[pull] phase=build environment=" + spec.name
             + " source=mmdebstrap packages=" + include);
  auto ran = run_helper(argv, std::chrono::minutes{30});
  if (!ran)
    return ran.err();
  if (ran->exit_code != 0)
    return make_error(
      error_code::unavailable,
      "mmdebstrap failed for " + spec.name + ": "
        + ran->err.substr(ran->err.size() > 2000 ? ran->err.size() - 2000 : 0),
      "check the host's apt sources and network");
  std::error_code ec;
  fs::create_directories(rootfs / "workspace", ec);
  return {};
}

install_info read_info(std::string_view name) {
  install_info info;
  info.name = std::string{name};
  info.path = environment_install_dir(name);
  auto text = sys::read_file(info.path / "install.json");
  if (!text)
    return info;
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.value("complete", false))
    return info;
  info.installed = true;
  info.source = j.value("source", "");
  info.packages = j.value("packages", std::vector<std::string>{});
  info.size_bytes = j.value("size_bytes", uint64_t{0});
  info.installed_at = j.value("installed_at", 0.0);
  auto vm = vm_images_info(info.path);
  info.vm_images = !vm.is_null();
  if (info.vm_images)
    info.kernel_release = vm.value("kernel_release", "");
  return info;
}

} // namespace

json to_json(const install_info& i) {
  return json{{"name", i.name},
              {"installed", i.installed},
              {"source", i.source.empty() ? json(nullptr) : json(i.source)},
              {"packages", i.packages},
              {"size_bytes", i.size_bytes},
              {"installed_at", i.installed_at},
              {"path", i.path.string()},
              {"vm_images", i.vm_images},
              {"kernel_release", i.kernel_release.empty()
                                   ? json(nullptr)
                                   : json(i.kernel_release)}};
}

result<install_info> inspect_environment(std::string_view name) {
  if (find_environment(name) == nullptr)
    return unknown_environment(name);
  return read_info(name);
}

result<install_info> pull_environment(std::string_view name,
                                      const pull_progress& progress, bool force,
                                      vm_images_policy vm) {
  bool want_vm
    = vm == vm_images_policy::always
      || (vm == vm_images_policy::host_default && vm_images_wanted());
  const auto* spec = find_environment(name);
  if (spec == nullptr)
    return unknown_environment(name);
  auto say = [&](const std::string& line) {
    if (progress)
      progress(line);
  };
  // A configured registry is the source of truth; building locally is the
  // fallback when there is none.
  if (auto registry = configured_registry(); !registry.empty()) {
    registry_options options;
    options.progress = [&](std::string_view line) {
      say(std::string{line});
    };
    auto pulled = install_from_registry(name, registry, options, force);
    if (!pulled)
      return pulled.err();
    if (want_vm && !vm_images_complete(environment_install_dir(name))) {
      auto lock = sys::file_lock::acquire(environment_pull_lock(name),
                                          std::chrono::minutes{45});
      if (!lock)
        return lock.err();
      if (!vm_images_complete(environment_install_dir(name)))
        if (auto built = build_vm_images(environment_install_dir(name), say);
            !built)
          return built.err();
    }
    return read_info(name);
  }
  auto cache = environment_cache_dir();
  std::error_code ec;
  fs::create_directories(cache, ec);
  say("[pull] phase=lock environment=" + spec->name);
  auto lock = sys::file_lock::acquire(environment_pull_lock(name),
                                      std::chrono::minutes{45});
  if (!lock)
    return lock.err();
  if (auto info = read_info(name); info.installed && !force) {
    if (want_vm && !info.vm_images) {
      if (auto built = build_vm_images(info.path, say); !built)
        return built.err();
      info = read_info(name);
    }
    say("[pull] phase=ready environment=" + spec->name + " cached=yes");
    return info;
  }
  // Leftovers of this environment's builds that were killed half-way (its
  // lock is ours); another environment's, whose name this one's may
  // prefix, are its own pull's business.
  for (const auto& e : fs::directory_iterator(cache, ec))
    if (leftover_owner(e.path().filename().string()) == spec)
      fs::remove_all(e.path(), ec);
  auto staging
    = cache
      / (staging_prefix + safe_name(name) + "-" + std::to_string(::getpid()));
  auto rootfs = staging / "rootfs";
  fs::create_directories(staging, ec);
  auto cleanup = [&] {
    fs::remove_all(staging, ec);
  };
  status built;
  std::string source;
  if (spec->variant == "busybox") {
    say("[pull] phase=build environment=" + spec->name + " source=busybox");
    built = build_busybox(rootfs);
    source = "busybox";
  } else {
    built = build_debian(*spec, rootfs, progress);
    source = "mmdebstrap";
  }
  if (!built) {
    cleanup();
    return built.err();
  }
  if (want_vm)
    if (auto vm = build_vm_images(staging, say); !vm) {
      cleanup();
      return vm.err();
    }
  say("[pull] phase=install environment=" + spec->name);
  auto size = tree_bytes(rootfs);
  json manifest{{"complete", true},   {"name", spec->name},
                {"source", source},   {"packages", spec->packages},
                {"size_bytes", size}, {"installed_at", sys::unix_now()}};
  if (auto w
      = sys::write_file_atomic(staging / "install.json", manifest.dump(2));
      !w) {
    cleanup();
    return w.err();
  }
  auto final_dir = environment_install_dir(name);
  if (fs::exists(final_dir, ec)) {
    auto old = cache / (staging_prefix + safe_name(name) + "-old");
    fs::remove_all(old, ec);
    fs::rename(final_dir, old, ec);
    fs::remove_all(old, ec);
  }
  fs::rename(staging, final_dir, ec);
  if (ec) {
    cleanup();
    return make_error(error_code::internal,
                      "cannot install " + spec->name + ": " + ec.message());
  }
  static_cast<void>(sys::sync_directory(cache));
  say("[pull] phase=ready environment=" + spec->name
      + " bytes=" + std::to_string(size));
  return read_info(name);
}

} // namespace pyro::vmm
