#include "actors/archive/export_target.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/archive/safe_archive.hpp"
#include "messages/sys/owned_temp.hpp"

namespace pyro {

namespace fs = std::filesystem;

namespace {

constexpr const char* staging_prefix = ".pyro-export-";

error not_an_entry(const std::string& output) {
  return make_error(error_code::invalid_argument,
                    "--output " + output
                      + " does not name a file or directory to create",
                    "give the new entry's name, e.g. DIR/NAME; `DIR/.`, "
                    "`DIR/..` and `DIR/` are refused so that an export never "
                    "replaces a directory it was not named");
}

bool entry_exists(int dir, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

error move_failed(const fs::path& to, int err) {
  return make_error(error_code::internal, "cannot move the export to "
                                            + to.string() + ": "
                                            + std::strerror(err));
}

} // namespace

result<export_target> export_target::resolve(const std::string& output,
                                             bool overwrite) {
  if (output.empty())
    return make_error(error_code::invalid_argument,
                      "an output path is required", "pass --output PATH");
  fs::path given{output};
  auto name = given.filename().string();
  if (output.back() == '/' || name.empty() || name == "." || name == "..")
    return not_an_entry(output);
  // A name of the exports' own temporaries would be swept by a later export
  // once this process is gone: what was exported there would be lost.
  if (name.rfind(staging_prefix, 0) == 0)
    return make_error(error_code::invalid_argument,
                      "--output names starting with " + std::string{staging_prefix}
                        + " are pyro's own temporaries",
                      "choose another name");
  auto parent = given.parent_path();
  std::error_code ec;
  // The user's own symlinks on the way are followed, as any tool would.
  auto dir_path = fs::canonical(parent.empty() ? fs::path{"."} : parent, ec);
  if (ec)
    return make_error(error_code::not_found,
                      "the output directory " + parent.string()
                        + " does not exist",
                      "create it first, or choose another --output");
  sys::unique_fd dir{
    ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.get() < 0)
    return make_error(error_code::failed_precondition,
                      dir_path.string() + " is not a directory you can "
                                          "write into: "
                        + std::strerror(errno));
  auto path = dir_path / name;
  if (!overwrite && entry_exists(dir.get(), name))
    return make_error(error_code::already_exists,
                      path.string() + " already exists",
                      "choose another --output, or pass --overwrite to "
                      "replace it");
  return export_target{path, std::move(dir), overwrite};
}

result<placed_export> export_target::place(const fs::path& tar,
                                           const std::string& artifact) {
  auto dir_path = path_.parent_path();
  auto name = path_.filename().string();
  sys::remove_dead_temps(dir_path, staging_prefix);
  auto staging_name = sys::owned_temp_name(staging_prefix);
  if (::mkdirat(dir_.get(), staging_name.c_str(), 0700) != 0)
    return make_error(error_code::failed_precondition,
                      "cannot write into " + dir_path.string() + ": "
                        + std::strerror(errno));
  std::error_code ec;
  auto staging_path = dir_path / staging_name;
  auto discard = [&](error err) -> result<placed_export> {
    fs::remove_all(staging_path, ec);
    return err;
  };
  sys::unique_fd staging{::openat(dir_.get(), staging_name.c_str(),
                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                    | O_CLOEXEC)};
  if (staging.get() < 0)
    return discard(make_error(error_code::internal,
                              "cannot open " + staging_path.string()));
  auto unpacked = extract_untrusted(tar, staging.get());
  if (!unpacked)
    return discard(unpacked.err());
  if (!entry_exists(staging.get(), artifact))
    return discard(make_error(error_code::internal,
                              "the agent's export held no '" + artifact
                                + "'"));
  // One rename: the output appears whole, or (overwriting) the old entry
  // trades places with the new one and leaves with the staging directory.
  int rc = -1;
  if (overwrite_ && entry_exists(dir_.get(), name)) {
    rc = ::renameat2(staging.get(), artifact.c_str(), dir_.get(),
                     name.c_str(), RENAME_EXCHANGE);
    if (rc != 0 && errno == EINVAL) { // no exchange on this file system
      auto old = ".replaced";
      if (::renameat(dir_.get(), name.c_str(), staging.get(), old) == 0)
        rc = ::renameat2(staging.get(), artifact.c_str(), dir_.get(),
                         name.c_str(), RENAME_NOREPLACE);
    }
  } else {
    rc = ::renameat2(staging.get(), artifact.c_str(), dir_.get(), name.c_str(),
                     RENAME_NOREPLACE);
    if (rc != 0 && errno == EEXIST)
      return discard(make_error(error_code::already_exists,
                                path_.string()
                                  + " appeared while the export ran",
                                "nothing was replaced; retry, with "
                                "--overwrite to replace it"));
  }
  if (rc != 0)
    return discard(move_failed(path_, errno));
  fs::remove_all(staging_path, ec);
  return placed_export{unpacked->entries, unpacked->bytes};
}

} // namespace pyro
