#include "vmm/qemu/kvm_probe.hpp"

#include <thread>

#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "messages/sys/atomic_file.hpp"
#include "vmm/guest/kernel_package.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

fact probe_accelerator(const vm_images& images, const std::string& accel,
                       std::chrono::milliseconds deadline) {
  auto qemu = find_executable("qemu-system-x86_64");
  if (qemu.empty())
    return {false, "qemu-system-x86_64 is not installed"};
  char tmpl[] = "/tmp/pyro-probe-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    return {false, "cannot create a scratch dir"};
  fs::path dir = tmpl;
  auto console = dir / "console.log";
  qemu_settings s;
  s.binary = qemu;
  s.accel = accel;
  s.mem_mib = 256;
  s.kernel = images.kernel();
  s.initrd = images.initrd();
  s.tsc_khz = host_tsc_khz();
  auto argv = qemu_machine_argv(s, "file:" + console.string(),
                                base_command_line(s) + " pyro.probe=1");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  auto started = clock_type::now();
  int status = 0;
  bool exited = false;
  while (clock_type::now() - started < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                clock_type::now() - started)
                .count();
  auto text = sys::read_file(console);
  std::error_code ec;
  fs::remove_all(dir, ec);
  bool printed = text && text->find("pyro-probe-ok") != std::string::npos;
  if (printed)
    return {true, "a " + accel + " boot probe reached the guest's init in "
                    + std::to_string(took) + " ms"};
  if (!exited)
    return {false, "a " + accel
                     + " boot probe did not reach the guest's init "
                       "within "
                     + std::to_string(deadline.count()) + " ms"};
  return {false, "a " + accel + " boot probe ended (exit "
                   + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                                      : 128 + WTERMSIG(status))
                   + ") before the guest's init ran"};
}

fact kvm_runs_stock_guests(const host_facts& facts, const vm_images& images) {
  if (!facts.kvm.stock_guest.ok)
    return facts.kvm.stock_guest;
  auto info = vm_images_info(images.dir.parent_path());
  if (info.is_null())
    return {false, "no guest image to probe KVM with yet"};
  std::error_code ec;
  json key{
    {"host_kernel", facts.kernel_release},
    {"qemu", facts.qemu_binary},
    {"qemu_mtime",
     fs::last_write_time(facts.qemu_binary, ec).time_since_epoch().count()},
    {"guest_kernel", info.value("kernel_release", "")}};
  auto cache = kernel_cache_dir() / "kvm-probe.json";
  if (auto text = sys::read_file(cache)) {
    auto j = json::parse(*text, nullptr, false);
    if (j.is_object() && j.value("key", json{}) == key)
      return {j.value("ok", false), j.value("reason", std::string{})};
  }
  auto verdict = probe_accelerator(images, "kvm", std::chrono::seconds{10});
  static_cast<void>(sys::write_file_atomic(
    cache,
    json{{"key", key}, {"ok", verdict.ok}, {"reason", verdict.reason}}.dump(
      2)));
  return verdict;
}

} // namespace pyro::vmm
