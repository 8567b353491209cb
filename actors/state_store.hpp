#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/activity_file.hpp"
#include "messages/error.hpp"
#include "messages/sys/file_lock.hpp"
#include "messages/workspace_record.hpp"

namespace pyro {

/// The on-disk state under PYRO_HOME:
///
///     workspaces/<id>/workspace.json   the record (schema-versioned)
///     workspaces/<id>/...              workspace/, commands/, shells/,
///                                      runtime/, baseline/, snapshots/
///     locks/<id>.lock                  flock serialising mutations
///
/// Every write is atomic, so a process killed at any instant leaves each
/// record either old or new. Locks live outside the workspace directory so
/// that deleting a workspace never deletes a lock someone is waiting on.
/// A workspace's record read under its lock, for a mutation.
struct locked_record {
  sys::file_lock lock;
  workspace_record record;
};

class state_store {
public:
  explicit state_store(std::filesystem::path home);

  [[nodiscard]] const std::filesystem::path& home() const noexcept {
    return home_;
  }

  [[nodiscard]] std::filesystem::path workspaces_dir() const;

  [[nodiscard]] std::filesystem::path
  workspace_dir(const std::string& id) const;

  [[nodiscard]] std::filesystem::path record_path(const std::string& id) const;

  /// Its command count and last use, beside the record (load() folds them
  /// in); exec updates them there, under the workspace lock.
  [[nodiscard]] activity_file activity_of(const std::string& id) const;

  /// Whether a workspace directory exists for a valid id.
  [[nodiscard]] bool exists(const std::string& id) const;

  /// `invalid_argument` for a malformed id, `not_found` for an unknown one,
  /// `failed_precondition` naming the problem for a corrupt record.
  result<workspace_record> load(const std::string& id) const;

  /// Writes the record atomically and durably, creating the workspace
  /// directory.
  status save(const workspace_record& record) const;

  /// The record of a workspace being created, only there so that a create
  /// killed half-way can be cleaned up: written beside the record (load()
  /// reads it while there is no record) and without fsyncs, so the first
  /// save() creates the record instead of replacing it. A power loss may
  /// take it; a workspace without a readable record is still deletable.
  status save_creating(const workspace_record& record) const;

  /// Frees the record versions save() replaced; workspace actors call it
  /// now and then, off the caller's path.
  void tidy(const std::string& id) const;

  /// Every workspace, most recently active first; unreadable records are
  /// listed with their problem instead of failing the whole list.
  std::vector<workspace_entry> list() const;

  /// Removes the workspace directory: first renamed out of sight (atomic),
  /// then deleted, so a crash half-way never leaves a half-readable record.
  status remove(const std::string& id) const;

  /// Takes the workspace's lock, then reads its record.
  result<locked_record> lock_and_load(const std::string& id,
                                      std::chrono::milliseconds timeout
                                      = std::chrono::seconds{30}) const;

  /// Unlinks the lock file; called by the holder right after remove(), so
  /// that no lock file outlives its workspace. Waiters notice and start
  /// over on a fresh file.
  void remove_lock(const std::string& id) const;

  /// Removes lock files whose workspace does not exist (a create killed
  /// between taking its lock and writing anything): each is locked first,
  /// so a create in progress keeps its own.
  void remove_orphan_locks() const;

  /// The file whose flock is the workspace's lock.
  [[nodiscard]] std::filesystem::path lock_path(const std::string& id) const;

  /// Exclusive lock on one workspace for the duration of a mutation.
  result<sys::file_lock> lock(const std::string& id,
                              std::chrono::milliseconds timeout
                              = std::chrono::seconds{30}) const;

private:
  void sweep_trash() const;

  status write_record(const workspace_record& record,
                      const std::filesystem::path& path, bool durable) const;

  std::filesystem::path home_;
};

} // namespace pyro
