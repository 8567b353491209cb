#pragma once

// A workspace's secret values live in exactly one host file, the private
// store `<workspace dir>/secrets/values.json` (0600 in a 0700 directory),
// which reset and start need to put them back into the guest. Everything
// else (records, journals, replies, errors) sees names only, and every reply
// passes through a redactor on its way out (actors/redaction.hpp).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actors/agent_link.hpp"
#include "actors/state_store.hpp"
#include "messages/workspace_record.hpp"
#include "messages/workspace_requests.hpp"

namespace pyro {

/// Writes the private store for a new workspace.
status save_secret_values(const state_store& store, const std::string& id,
                          const std::vector<secret_value>& secrets);

/// Name -> value from the private store; empty when there is none.
result<std::map<std::string, std::string>>
load_secret_values(const state_store& store, const std::string& id);

/// Puts a workspace's secrets into its guest (/run/pyro-secrets), after
/// every boot.
status materialise_secrets(const state_store& store,
                           const workspace_record& record, agent_link& link);

/// `--secret-env NAME[=ENV]` specs as the agent takes them: ENV -> NAME.
/// Unknown names are `invalid_argument` naming the secrets there are.
result<std::map<std::string, std::string>>
secret_env_map(const workspace_record& record,
               const std::vector<std::string>& specs);

/// Replaces every secret value in texts with "[REDACTED:NAME]".
class redactor {
public:
  redactor() = default;

  /// `id`, the workspace's id, is left alone where it is a whole text (an
  /// id field): pyro chose it, and a short secret that happens to occur in
  /// it must not leave callers with an id that names nothing.
  explicit redactor(std::map<std::string, std::string> values,
                    std::string id = {});

  /// The redactor for a workspace (an empty one if it has no secrets).
  static result<redactor> for_workspace(const state_store& store,
                                        const workspace_record& record);

  [[nodiscard]] std::string apply(std::string text) const;

  /// Redacts every string inside a JSON value, keys included, without
  /// recursion (a guest's reply may nest deeper than the stack).
  void apply_all(nlohmann::json& value) const;

  error apply(error err) const;

  /// How many bytes at the end of `text` could be the start of a secret
  /// that the next read completes; a cursor-based reader holds them back.
  [[nodiscard]] size_t unsafe_tail(std::string_view text) const;

  [[nodiscard]] bool empty() const {
    return values_.empty();
  }

private:
  std::vector<std::pair<std::string, std::string>> values_; // value, name
  std::string id_;
};

} // namespace pyro
