#include "vmm/guest/kernel_modules.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>

#include "messages/sys/atomic_file.hpp"

namespace pyro::vmm {

namespace fs = std::filesystem;

namespace {

std::string module_name(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{text};
  while (std::getline(in, item, sep))
    if (!item.empty())
      out.push_back(item);
  return out;
}

error bad_module(const fs::path& ko, const std::string& why) {
  return make_error(error_code::invalid_argument,
                    "kernel module " + ko.string() + ": " + why);
}

} // namespace

result<std::map<std::string, std::vector<std::string>>>
read_modinfo(const fs::path& ko) {
  auto text = sys::read_file(ko);
  if (!text)
    return text.err();
  const std::string& elf = *text;
  if (elf.size() < sizeof(Elf64_Ehdr) || elf.compare(0, 4, ELFMAG) != 0
      || elf[EI_CLASS] != ELFCLASS64)
    return bad_module(ko, "not a 64-bit ELF file");
  Elf64_Ehdr header;
  std::memcpy(&header, elf.data(), sizeof header);
  auto table_end
    = uint64_t{header.e_shoff} + uint64_t{header.e_shnum} * sizeof(Elf64_Shdr);
  if (header.e_shentsize != sizeof(Elf64_Shdr) || table_end > elf.size()
      || header.e_shstrndx >= header.e_shnum)
    return bad_module(ko, "section table out of bounds");
  auto section = [&](size_t i) {
    Elf64_Shdr s;
    std::memcpy(&s, elf.data() + header.e_shoff + i * sizeof s, sizeof s);
    return s;
  };
  auto names = section(header.e_shstrndx);
  if (names.sh_offset + names.sh_size > elf.size())
    return bad_module(ko, "section names out of bounds");
  for (size_t i = 0; i < header.e_shnum; ++i) {
    auto s = section(i);
    if (s.sh_name >= names.sh_size)
      continue;
    std::string name{elf.c_str() + names.sh_offset + s.sh_name};
    if (name != ".modinfo")
      continue;
    if (s.sh_offset + s.sh_size > elf.size())
      return bad_module(ko, ".modinfo out of bounds");
    std::map<std::string, std::vector<std::string>> info;
    for (const auto& entry : split(elf.substr(s.sh_offset, s.sh_size), '\0')) {
      auto eq = entry.find('=');
      if (eq != std::string::npos)
        info[entry.substr(0, eq)].push_back(entry.substr(eq + 1));
    }
    return info;
  }
  return bad_module(ko, "no .modinfo section");
}

result<std::map<std::string, module_info>> scan_modules(const fs::path& root) {
  std::map<std::string, module_info> modules;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".ko")
      continue;
    auto info = read_modinfo(it->path());
    if (!info)
      return info.err();
    module_info m;
    m.name = module_name(it->path().stem().string());
    m.path = fs::relative(it->path(), root);
    for (const auto& deps : (*info)["depends"])
      for (const auto& dep : split(deps, ','))
        m.depends.push_back(module_name(dep));
    for (const auto& soft : (*info)["softdep"]) {
      // "pre: a b post: c": only what must come before matters here.
      bool pre = false;
      for (const auto& word : split(soft, ' ')) {
        if (word == "pre:" || word == "post:")
          pre = word == "pre:";
        else if (pre)
          m.pre.push_back(module_name(word));
      }
    }
    m.aliases = (*info)["alias"];
    modules[m.name] = std::move(m);
  }
  if (ec)
    return make_error(error_code::internal,
                      "cannot scan " + root.string() + ": " + ec.message());
  return modules;
}

result<std::vector<module_info>>
load_order(const std::map<std::string, module_info>& modules,
           const std::vector<std::string>& wanted) {
  std::map<std::string, std::string> alias_of;
  for (const auto& [name, m] : modules)
    for (const auto& alias : m.aliases)
      alias_of[module_name(alias)] = name;
  auto resolve = [&](const std::string& name) -> const module_info* {
    auto it = modules.find(name);
    if (it != modules.end())
      return &it->second;
    auto alias = alias_of.find(name);
    return alias == alias_of.end() ? nullptr : &modules.at(alias->second);
  };
  std::vector<module_info> order;
  std::set<std::string> placed;
  std::set<std::string> visiting;
  std::function<status(const module_info&)> place
    = [&](const module_info& m) -> status {
    if (placed.count(m.name) != 0 || visiting.count(m.name) != 0)
      return {};
    visiting.insert(m.name);
    for (const auto& soft : m.pre)
      if (const auto* dep = resolve(soft))
        if (auto ok = place(*dep); !ok)
          return ok;
    for (const auto& name : m.depends) {
      const auto* dep = resolve(name);
      if (dep == nullptr)
        return make_error(error_code::not_found,
                          "kernel module " + m.name + " needs " + name
                            + ", which is not among the extracted modules");
      if (auto ok = place(*dep); !ok)
        return ok;
    }
    visiting.erase(m.name);
    placed.insert(m.name);
    order.push_back(m);
    return {};
  };
  for (const auto& name : wanted) {
    const auto* m = resolve(module_name(name));
    if (m == nullptr)
      return make_error(error_code::not_found,
                        "no kernel module or alias named " + name);
    if (auto ok = place(*m); !ok)
      return ok.err();
  }
  return order;
}

} // namespace pyro::vmm
