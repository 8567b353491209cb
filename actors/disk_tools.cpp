#include "actors/disk_tools.hpp"

#include <unistd.h>

#include "actors/interrupted.hpp"
#include "actors/teardown.hpp"
#include "vmm/guest/disk_image.hpp"
#include "vmm/guest/disk_reader.hpp"
#include "vmm/qemu/qemu_backend.hpp"

namespace pyro {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Relative paths are relative to /workspace, as everywhere else.
std::string guest_path(const json& args, const char* fallback) {
  auto path = args.value("path", std::string{fallback});
  if (path.empty() || path.front() != '/')
    path = "/workspace/" + path;
  return path;
}

json to_json(const vmm::disk_entry& e) {
  // The shape of `workspace file list` entries.
  return json{{"path", e.path},
              {"type", e.type},
              {"size", e.size},
              {"mode", e.mode & 07777},
              {"link_target", nullptr}};
}

// Refuses what cannot be read offline, naming why.
status check_readable(const workspace_record& record) {
  if (record.backend != "qemu" && record.backend != "firecracker")
    return make_error(error_code::failed_precondition,
                      "workspace '" + record.workspace_id + "' runs on the "
                        + record.backend
                        + " backend; disk tools read VM disks only",
                      "create the workspace with --backend qemu");
  if (record.state != "stopped")
    return make_error(error_code::failed_precondition,
                      "workspace '" + record.workspace_id
                        + "' is running; its disk is read only when stopped",
                      "stop it first: `pyro workspace stop "
                        + record.workspace_id + "`");
  return {};
}

// A raw, scrubbed copy of the workspace's disk at `raw`.
status flatten(const state_store& store, const workspace_record& record,
               const fs::path& raw) {
  auto spec = sandbox_spec_for(store, record);
  // Firecracker boots a raw copy of the image; QEMU a qcow2 overlay chain.
  auto disk = record.backend == "firecracker"
                ? spec.workspace_dir / "vm" / "rootfs.ext4"
                : vmm::vm_disk_path(spec);
  std::error_code ec;
  if (!fs::exists(disk, ec))
    return make_error(error_code::not_found, "workspace '" + record.workspace_id
                                               + "' has no disk at "
                                               + disk.string());
  if (auto flat = vmm::flatten_to_raw(disk, raw); !flat)
    return flat;
  return vmm::scrub_runtime_paths(raw);
}

} // namespace

bool is_disk_op(const std::string& op) {
  return op == "disk_list" || op == "disk_read" || op == "disk_export";
}

result<json> disk_call(const state_store& store, const std::string& id,
                       const std::string& op, const json& args) {
  auto locked = lock_settled(store, id);
  if (!locked)
    return locked.err();
  const auto& record = locked->record;
  if (auto ok = check_readable(record); !ok)
    return ok.err();
  json reply{{"workspace_id", id}};
  if (op == "disk_export") {
    fs::path output = args.value("output_path", std::string{});
    if (output.empty())
      return make_error(error_code::invalid_argument,
                        "output_path is required");
    std::error_code ec;
    if (fs::exists(output, ec))
      return make_error(error_code::already_exists,
                        output.string() + " already exists",
                        "choose a new --output path");
    auto staged = output.string() + ".partial-" + std::to_string(::getpid());
    if (auto flat = flatten(store, record, staged); !flat) {
      fs::remove(staged, ec);
      return flat.err();
    }
    fs::rename(staged, output, ec);
    if (ec)
      return make_error(error_code::internal, "cannot write " + output.string()
                                                + ": " + ec.message());
    reply["output_path"] = fs::absolute(output).string();
    reply["disk_format"] = "ext4";
    reply["bytes_written"] = fs::file_size(output, ec);
    return reply;
  }
  auto raw = store.workspace_dir(id) / "vm" / "disk-read.raw";
  struct remove_after {
    fs::path path;
    ~remove_after() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } cleanup{raw};
  if (auto flat = flatten(store, record, raw); !flat)
    return flat.err();
  if (op == "disk_list") {
    auto path = guest_path(args, "/workspace");
    auto entries = vmm::list_disk(raw, path, args.value("recursive", false));
    if (!entries)
      return entries.err();
    json rows = json::array();
    for (const auto& e : *entries)
      rows.push_back(to_json(e));
    reply["path"] = path;
    reply["entries"] = std::move(rows);
    return reply;
  }
  if (op == "disk_read") {
    auto file = vmm::read_disk_file(raw, guest_path(args, ""),
                                    args.value("max_bytes", uint64_t{65536}));
    if (!file)
      return file.err();
    reply["path"] = file->path;
    reply["size_bytes"] = file->size;
    reply["content"] = file->content;
    reply["truncated"] = file->truncated;
    return reply;
  }
  return make_error(error_code::invalid_argument,
                    "'" + op + "' is not a disk operation");
}

} // namespace pyro
