#include "frontends/cli/arguments.hpp"

#include <cerrno>
#include <cstdlib>

namespace pyro::cli {

using contract::value_type;
using nlohmann::json;

namespace {

std::string help_text(const contract::param& p) {
  std::string text{p.description};
  if (!p.default_json.empty() && p.type != value_type::boolean)
    text += " [default: " + std::string{p.default_json} + "]";
  return text;
}

bool is_negated_flag(const contract::param& p) {
  return p.type == value_type::boolean && p.flag.rfind("--no-", 0) == 0;
}

std::string shell_quote(const std::string& word) {
  if (word.empty())
    return "''";
  bool plain = true;
  for (char c : word) {
    bool safe
      = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || std::string_view{"-_./=:,+@%"}.find(c) != std::string_view::npos;
    plain = plain && safe;
  }
  if (plain)
    return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

error bad_value(const contract::param& p, const std::string& word,
                const std::string& expected) {
  return make_error(error_code::invalid_argument,
                    p.cli_flag() + " expects " + expected + ", got '" + word
                      + "'",
                    "run with --help for the accepted values");
}

} // namespace

std::string join_command(const std::vector<std::string>& words) {
  if (words.size() == 1)
    return words.front();
  std::string out;
  for (const auto& w : words) {
    if (!out.empty())
      out += ' ';
    out += shell_quote(w);
  }
  return out;
}

bound_operation::bound_operation(CLI::App& parent, std::string leaf_name,
                                 const contract::operation& op)
  : op_(&op) {
  app_ = parent.add_subcommand(std::move(leaf_name), std::string{op.summary});
  app_->footer("Example:\n  " + std::string{op.example});
  for (const auto& p : op.params) {
    if (p.api_only)
      continue;
    auto s = std::make_unique<slot>();
    s->p = &p;
    if (p.type == value_type::command) {
      s->option = app_->add_option("command", s->words, help_text(p));
    } else if (p.positional) {
      s->option = app_->add_option(std::string{p.name}, s->word, help_text(p));
    } else if (p.type == value_type::boolean) {
      s->option = app_->add_flag(p.cli_flag())->description(help_text(p));
    } else {
      bool many
        = p.type == value_type::string_list || p.type == value_type::string_map;
      // Each occurrence of a list flag takes one word, so that
      // `--label a=b debian:12` leaves the environment positional and
      // `--secret-env X -- cmd` leaves `--` and the command alone.
      s->option = many ? app_->add_option(p.cli_flag(), s->words, help_text(p))
                           ->allow_extra_args(false)
                       : app_->add_option(p.cli_flag(), s->word, help_text(p));
    }
    if (p.required && !p.cli_only)
      s->option->required();
    slots_.push_back(std::move(s));
  }
}

result<json> bound_operation::arguments() const {
  json args = json::object();
  for (const auto& s : slots_) {
    const auto& p = *s->p;
    std::string key{p.name};
    if (s->option->count() == 0) {
      if (!p.default_json.empty())
        args[key] = json::parse(p.default_json);
      continue;
    }
    switch (p.type) {
    case value_type::boolean:
      args[key] = !is_negated_flag(p);
      break;
    case value_type::command:
      args[key] = join_command(s->words);
      break;
    case value_type::integer: {
      const auto& word = s->word;
      errno = 0;
      char* end = nullptr;
      long long value = std::strtoll(word.c_str(), &end, 10);
      if (word.empty() || *end != '\0' || errno == ERANGE)
        return bad_value(p, word, "a whole number");
      args[key] = value;
      break;
    }
    case value_type::string_list:
      args[key] = s->words;
      break;
    case value_type::string_map: {
      json map = json::object();
      for (const auto& word : s->words) {
        auto eq = word.find('=');
        if (eq == std::string::npos || eq == 0)
          return bad_value(p, word, "KEY=VALUE");
        map[word.substr(0, eq)] = word.substr(eq + 1);
      }
      args[key] = std::move(map);
      break;
    }
    case value_type::string:
    case value_type::json:
      args[key] = s->word;
      break;
    }
  }
  return args;
}

} // namespace pyro::cli
