#include "frontends/cli/command_words.hpp"

#include <string_view>

#include "frontends/contract/contract.hpp"

namespace pyro::cli {

using contract::value_type;

namespace {

bool is_option(const std::string& word) {
  return word.size() > 1 && word.front() == '-';
}

// Whether `word` is a flag of `op` whose value is the next word (not given
// as --flag=value). pyro's own flags (--json, -v, --help) take none.
bool takes_next_word(const contract::operation* op, const std::string& word) {
  if (op == nullptr || word.find('=') != std::string::npos)
    return false;
  for (const auto& p : op->params)
    if (!p.api_only && !p.positional && p.type != value_type::boolean
        && p.type != value_type::command && p.cli_flag() == word)
      return true;
  return false;
}

// A command or a group of commands, e.g. "workspace" or "demo ollama".
bool known_words(const std::string& words) {
  for (const auto& op : contract::operations())
    if (op.cli == words
        || (op.cli.size() > words.size()
            && op.cli.substr(0, words.size()) == words
            && op.cli[words.size()] == ' '))
      return true;
  return false;
}

struct positionals {
  size_t before_command = 0;
  bool command = false;
};

positionals positionals_of(const contract::operation& op) {
  positionals out;
  for (const auto& p : op.params) {
    if (p.api_only)
      continue;
    if (p.type == value_type::command)
      out.command = true;
    else if (p.positional)
      ++out.before_command;
  }
  return out;
}

} // namespace

std::vector<std::string> mark_command_start(std::vector<std::string> argv) {
  std::string words;
  const contract::operation* op = nullptr;
  size_t seen = 0;
  for (size_t i = 1; i < argv.size(); ++i) {
    const auto& word = argv[i];
    if (word == "--")
      return argv;
    if (is_option(word)) {
      if (takes_next_word(op, word))
        ++i;
      continue;
    }
    auto deeper = words.empty() ? word : words + " " + word;
    if (seen == 0 && known_words(deeper)) {
      words = std::move(deeper);
      op = contract::find_cli(words);
      continue;
    }
    if (op == nullptr)
      return argv;
    auto wanted = positionals_of(*op);
    if (seen < wanted.before_command) {
      ++seen;
      continue;
    }
    if (wanted.command)
      argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(i), "--");
    return argv;
  }
  return argv;
}

} // namespace pyro::cli
