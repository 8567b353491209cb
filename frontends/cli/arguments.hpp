#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "frontends/contract/contract.hpp"
#include "messages/error.hpp"

namespace pyro::cli {

/// One contract operation registered as a CLI11 subcommand, with storage for
/// the raw words of each of its parameters.
class bound_operation {
public:
  bound_operation(CLI::App& parent, std::string leaf_name,
                  const contract::operation& op);

  [[nodiscard]] const contract::operation& op() const {
    return *op_;
  }

  [[nodiscard]] bool parsed() const {
    return app_->parsed();
  }

  /// The parameters as JSON: typed, checked, defaults applied.
  result<nlohmann::json> arguments() const;

private:
  struct slot {
    const contract::param* p = nullptr;
    CLI::Option* option = nullptr;
    /// Single-valued parameters.
    std::string word;
    /// Lists, maps and the command after `--`.
    std::vector<std::string> words;
  };

  const contract::operation* op_;
  CLI::App* app_;
  std::vector<std::unique_ptr<slot>> slots_;
};

/// Joins the words after `--` into one shell command: a single word is taken
/// as a shell string as it is; several are quoted where needed.
std::string join_command(const std::vector<std::string>& words);

} // namespace pyro::cli
