// Guest image pieces without a real kernel: module metadata and load order
// from synthetic ELF modules, the initramfs written from them, the vmlinux
// extraction and the QEMU command line.

#include <elf.h>

#include <cstring>
#include <fstream>

#include <archive.h>
#include <archive_entry.h>
#include <catch2/catch.hpp>
#include <sys/sysmacros.h>

#include "../unit/run_process.hpp"
#include "../unit/temp_dir.hpp"
#include "vmm/guest/initramfs.hpp"
#include "vmm/guest/kernel_modules.hpp"
#include "vmm/guest/kernel_package.hpp"
#include "vmm/qemu/qemu_command.hpp"

namespace fs = std::filesystem;
using namespace pyro;

namespace {

// A minimal relocatable ELF64 with a .modinfo section of `info` strings.
std::string fake_module(const std::vector<std::string>& info) {
  std::string modinfo;
  for (const auto& s : info)
    modinfo += s + '\0';
  const std::string names = std::string{"\0.shstrtab\0.modinfo\0", 20};
  Elf64_Ehdr h{};
  std::memcpy(h.e_ident, ELFMAG, SELFMAG);
  h.e_ident[EI_CLASS] = ELFCLASS64;
  h.e_ident[EI_DATA] = ELFDATA2LSB;
  h.e_ident[EI_VERSION] = EV_CURRENT;
  h.e_type = ET_REL;
  h.e_machine = EM_X86_64;
  h.e_version = EV_CURRENT;
  h.e_ehsize = sizeof h;
  h.e_shentsize = sizeof(Elf64_Shdr);
  h.e_shnum = 3;
  h.e_shstrndx = 1;
  size_t names_at = sizeof h;
  size_t info_at = names_at + names.size();
  h.e_shoff = info_at + modinfo.size();
  Elf64_Shdr sections[3]{};
  sections[1].sh_name = 1;
  sections[1].sh_type = SHT_STRTAB;
  sections[1].sh_offset = names_at;
  sections[1].sh_size = names.size();
  sections[2].sh_name = 11;
  sections[2].sh_type = SHT_PROGBITS;
  sections[2].sh_offset = info_at;
  sections[2].sh_size = modinfo.size();
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out += names + modinfo;
  out.append(reinterpret_cast<const char*>(sections), sizeof sections);
  return out;
}

void put(const fs::path& file, const std::string& body) {
  fs::create_directories(file.parent_path());
  std::ofstream{file, std::ios::binary} << body;
}

// The module tree of a stock kernel, in miniature: ext4 needs jbd2 and
// wants crc32c first (by alias), the virtio drivers need the core.
fs::path fake_modules(const fs::path& root) {
  auto k = root / "kernel";
  put(k / "drivers/virtio/virtio_ring.ko",
      fake_module({"name=virtio_ring", "depends="}));
  put(k / "drivers/virtio/virtio.ko",
      fake_module({"depends=virtio_ring", "name=virtio"}));
  put(k / "drivers/virtio/virtio_mmio.ko",
      fake_module({"depends=virtio,virtio_ring", "name=virtio_mmio"}));
  put(k / "drivers/block/virtio_blk.ko",
      fake_module({"depends=virtio,virtio_ring"}));
  put(k / "drivers/char/virtio_console.ko",
      fake_module({"depends=virtio,virtio_ring"}));
  put(k / "crypto/crc32c_generic.ko",
      fake_module({"alias=crypto-crc32c", "alias=crc32c", "depends="}));
  put(k / "fs/jbd2/jbd2.ko",
      fake_module({"softdep=pre: crypto-crc32c", "depends="}));
  put(k / "fs/ext4/ext4.ko",
      fake_module({"softdep=pre: crypto-crc32c", "depends=jbd2"}));
  put(k / "net/vmw_vsock/vsock.ko", fake_module({"depends="}));
  put(k / "net/vmw_vsock/vmw_vsock_virtio_transport.ko",
      fake_module({"depends=virtio,vsock,virtio_ring"}));
  return root;
}

std::vector<std::string> names_of(const std::vector<vmm::module_info>& order) {
  std::vector<std::string> out;
  for (const auto& m : order)
    out.push_back(m.name);
  return out;
}

size_t index_of(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), x) - v.begin());
}

} // namespace

TEST_CASE("modinfo is read from the module's ELF section") {
  test::temp_dir dir;
  put(dir.path() / "a.ko", fake_module({"alias=x", "depends=b,c", "alias=y"}));
  auto info = vmm::read_modinfo(dir.path() / "a.ko");
  REQUIRE(info);
  CHECK((*info)["depends"] == std::vector<std::string>{"b,c"});
  CHECK((*info)["alias"] == std::vector<std::string>{"x", "y"});

  put(dir.path() / "junk.ko", "not an ELF file at all, just text");
  auto junk = vmm::read_modinfo(dir.path() / "junk.ko");
  REQUIRE_FALSE(junk);
  CHECK(junk.err().message.find("junk.ko") != std::string::npos);

  // A section table pointing past the end of the file.
  auto truncated = fake_module({"depends="});
  truncated.resize(truncated.size() - 40);
  put(dir.path() / "cut.ko", truncated);
  CHECK_FALSE(vmm::read_modinfo(dir.path() / "cut.ko"));
}

TEST_CASE("modules load after their dependencies and soft dependencies") {
  test::temp_dir dir;
  auto modules = vmm::scan_modules(fake_modules(dir.path()));
  REQUIRE(modules);
  auto order = vmm::load_order(*modules, {"virtio_mmio", "virtio_blk", "ext4"});
  REQUIRE(order);
  auto names = names_of(*order);
  CHECK(names.size() == 7);
  CHECK(index_of(names, "virtio_ring") < index_of(names, "virtio"));
  CHECK(index_of(names, "virtio") < index_of(names, "virtio_mmio"));
  CHECK(index_of(names, "virtio") < index_of(names, "virtio_blk"));
  // crc32c comes through its alias, before ext4 and jbd2 that want it.
  CHECK(index_of(names, "crc32c_generic") < index_of(names, "jbd2"));
  CHECK(index_of(names, "jbd2") < index_of(names, "ext4"));

  auto missing = vmm::load_order(*modules, {"no_such_driver"});
  REQUIRE_FALSE(missing);
  CHECK(missing.err().message.find("no_such_driver") != std::string::npos);
}

TEST_CASE("the initramfs holds the agent as init, the console and ordered "
          "modules") {
  test::temp_dir dir;
  vmm::guest_kernel kernel{"linux-image-test", "6.1.0-test", dir.path()};
  fake_modules(kernel.modules_root());
  put(dir.path() / "agent", "#!agent binary stand-in");
  auto out = dir.path() / "initrd.img";
  REQUIRE(vmm::write_initramfs(out, kernel, dir.path() / "agent"));

  std::map<std::string, std::pair<mode_t, std::string>> entries;
  dev_t console = 0;
  auto* a = archive_read_new();
  archive_read_support_format_cpio(a);
  REQUIRE(archive_read_open_filename(a, out.c_str(), 65536) == ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string body(static_cast<size_t>(archive_entry_size(e)), '\0');
    archive_read_data(a, body.data(), body.size());
    entries[archive_entry_pathname(e)] = {archive_entry_mode(e), body};
    if (std::string{archive_entry_pathname(e)} == "dev/console")
      console = archive_entry_rdev(e);
  }
  archive_read_free(a);

  REQUIRE(entries.count("init") == 1);
  CHECK((entries["init"].first & 0777) == 0755);
  CHECK(entries["init"].second == "#!agent binary stand-in");
  REQUIRE(entries.count("dev/console") == 1);
  CHECK(S_ISCHR(entries["dev/console"].first));
  CHECK(major(console) == 5);
  CHECK(minor(console) == 1);
  CHECK(entries.count("lib/modules/kernel/fs/ext4/ext4.ko") == 1);
  CHECK(entries.count("lib/modules/kernel/net/vmw_vsock/vsock.ko") == 1);

  std::istringstream order{entries["lib/pyro/modules.order"].second};
  std::vector<std::string> base;
  std::vector<std::string> vsock;
  for (std::string group, path; order >> group >> path;) {
    CHECK(entries.count("lib/modules/" + path) == 1);
    (group == "base" ? base : vsock).push_back(fs::path{path}.stem().string());
  }
  CHECK(index_of(base, "crc32c_generic") < index_of(base, "ext4"));
  CHECK(index_of(base, "virtio_console") < base.size());
  CHECK(index_of(base, "vsock") == base.size()); // only for vsock guests
  CHECK(index_of(vsock, "vsock")
        < index_of(vsock, "vmw_vsock_virtio_transport"));
}

TEST_CASE("vmlinux is recovered from the XZ stream inside a compressed "
          "kernel") {
  test::temp_dir dir;
  std::string elf = "\x7f"
                    "ELF"
                    + std::string(5000, 'k');
  put(dir.path() / "payload", elf);
  REQUIRE(test::run_process(
            {"/usr/bin/xz", "-k", "-f", (dir.path() / "payload").string()})
            .exit_code
          == 0);
  std::ifstream xz{dir.path() / "payload.xz", std::ios::binary};
  std::string compressed{std::istreambuf_iterator<char>{xz}, {}};
  // A setup header before the stream and other data after it, as in a
  // bzImage.
  put(dir.path() / "vmlinuz",
      std::string(3000, '\x90') + compressed + std::string(700, '\x00'));
  REQUIRE(vmm::extract_vmlinux(dir.path() / "vmlinuz", dir.path() / "vmlinux"));
  std::ifstream got{dir.path() / "vmlinux", std::ios::binary};
  CHECK(std::string{std::istreambuf_iterator<char>{got}, {}} == elf);

  put(dir.path() / "plain", std::string(4000, 'x'));
  auto refused = vmm::extract_vmlinux(dir.path() / "plain", dir.path() / "out");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().message.find("XZ") != std::string::npos);
}

TEST_CASE("the QEMU command line boots a microvm with the agent channel") {
  vmm::qemu_settings s;
  s.binary = "/usr/bin/qemu-system-x86_64";
  s.vcpu_count = 2;
  s.mem_mib = 512;
  s.kernel = "/k/vmlinux";
  s.initrd = "/k/initrd.img";
  s.disk = "/w/disk.qcow2";
  s.hostname = "ws-1";
  s.tsc_khz = 2500000;
  s.agent_socket = "/r/qemu-agent.sock";
  s.qmp_socket = "/r/qmp.sock";
  s.console_log = "/r/console.log";
  auto argv = vmm::qemu_argv(s);
  auto after = [&](const std::string& flag) {
    auto i = std::find(argv.begin(), argv.end(), flag);
    REQUIRE(i != argv.end());
    REQUIRE(i + 1 != argv.end());
    return *(i + 1);
  };
  CHECK(after("-M") == "microvm");
  CHECK(after("-accel") == "tcg");
  CHECK(after("-m") == "512");
  CHECK(after("-smp") == "2");
  CHECK(after("-kernel") == "/k/vmlinux");
  CHECK(after("-qmp") == "unix:/r/qmp.sock,server=on,wait=off");
  auto append = after("-append");
  CHECK(append.find("tsc_early_khz=2500000") != std::string::npos);
  CHECK(append.find("pyro.hostname=ws-1") != std::string::npos);
  CHECK(append.find("pyro.channel=vport:org.pyro.agent") != std::string::npos);
  CHECK(append.find("panic=-1") != std::string::npos);
  CHECK(std::find(argv.begin(), argv.end(), "-no-reboot") != argv.end());
  CHECK(std::find(argv.begin(), argv.end(),
                  "virtserialport,chardev=agent,name=org.pyro.agent")
        != argv.end());
  CHECK(std::find(argv.begin(), argv.end(), "-incoming") == argv.end());
  s.incoming = "/snap/memory";
  CHECK(vmm::qemu_argv(s).back() == "exec:cat /snap/memory");
}
