#include "vmm/sandbox/forward_table.hpp"

#include <chrono>

#include "messages/sys/atomic_file.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;
using nlohmann::json;

forward_table::forward_table(fs::path runtime_dir)
  : path_{std::move(runtime_dir) / "ports.json"} {
  // nop
}

result<sys::file_lock> forward_table::lock() const {
  return sys::file_lock::acquire(path_.string() + ".lock",
                                 std::chrono::seconds{10});
}

json forward_table::load() const {
  auto text = sys::read_file(path_);
  auto j = text ? json::parse(*text, nullptr, false) : json::object();
  return j.is_object() ? j : json::object();
}

status forward_table::save(const json& table) const {
  return sys::write_file_atomic(path_, table.dump(2), 0600);
}

void forward_table::remove() const {
  std::error_code ec;
  fs::remove(path_, ec);
}

std::set<int> forward_table::ids_of(const json& entry) {
  std::set<int> ids;
  if (entry.is_array())
    for (const auto& f : entry)
      if (f.is_object() && f.contains("forward_id")
          && f["forward_id"].is_number_integer())
        ids.insert(f["forward_id"].get<int>());
  return ids;
}

} // namespace pyro::vmm
