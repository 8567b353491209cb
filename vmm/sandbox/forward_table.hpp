#pragma once

// runtime/ports.json: which slirp4netns port forwards belong to which
// service of a sandbox, as {"<service>": [{"host_address", "host_port",
// "guest_port", "forward_id"}, ...]}. Read and changed under its lock by
// the pyro process publishing or unpublishing a service's ports and by the
// watcher that closes them when the service exits (port_watch.hpp). A
// forward id names one forward of one slirp4netns for good: slirp4netns
// never hands the same id out twice.

#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "messages/error.hpp"
#include "messages/sys/file_lock.hpp"

namespace pyro::vmm {

/// The table of a sandbox whose runtime directory is `runtime_dir`.
class forward_table {
public:
  explicit forward_table(std::filesystem::path runtime_dir);

  /// Held while reading and changing the table.
  [[nodiscard]] result<sys::file_lock> lock() const;

  /// Every service's forwards; empty when there is no table.
  [[nodiscard]] nlohmann::json load() const;

  status save(const nlohmann::json& table) const;

  /// Removes the table: a new sandbox has no forwards.
  void remove() const;

  /// The forward ids a service's entry holds.
  static std::set<int> ids_of(const nlohmann::json& entry);

private:
  std::filesystem::path path_;
};

} // namespace pyro::vmm
