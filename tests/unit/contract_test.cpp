#include <set>

#include <catch2/catch.hpp>

#include "frontends/contract/contract.hpp"
#include "run_process.hpp"

using namespace pyro;

namespace {

// The public surface as ../shared/docs/REFERENCE.md names it.
const std::vector<std::string> reference_cli = {
  "env list",
  "env pull",
  "env inspect",
  "env prune",
  "mcp serve",
  "run",
  "doctor",
  "demo",
  "demo ollama",
  "workspace create",
  "workspace list",
  "workspace update",
  "workspace status",
  "workspace logs",
  "workspace delete",
  "workspace start",
  "workspace stop",
  "workspace exec",
  "workspace sync push",
  "workspace export",
  "workspace diff",
  "workspace file list",
  "workspace file read",
  "workspace file write",
  "workspace patch apply",
  "workspace shell open",
  "workspace shell read",
  "workspace shell write",
  "workspace shell signal",
  "workspace shell close",
  "workspace service start",
  "workspace service list",
  "workspace service status",
  "workspace service logs",
  "workspace service stop",
  "workspace snapshot create",
  "workspace snapshot list",
  "workspace snapshot delete",
  "workspace reset",
  "workspace disk list",
  "workspace disk read",
  "workspace disk export",
};

const std::vector<std::string> reference_tools = {
  "vm_run",
  "vm_list_environments",
  "vm_create",
  "vm_start",
  "vm_exec",
  "vm_stop",
  "vm_delete",
  "vm_status",
  "vm_network_info",
  "vm_reap_expired",
  "workspace_create",
  "workspace_list",
  "workspace_update",
  "workspace_status",
  "workspace_logs",
  "workspace_delete",
  "workspace_start",
  "workspace_stop",
  "workspace_sync_push",
  "workspace_exec",
  "workspace_export",
  "workspace_diff",
  "workspace_reset",
  "workspace_file_list",
  "workspace_file_read",
  "workspace_file_write",
  "workspace_patch_apply",
  "workspace_disk_export",
  "workspace_disk_list",
  "workspace_disk_read",
  "snapshot_create",
  "snapshot_list",
  "snapshot_delete",
  "service_start",
  "service_list",
  "service_status",
  "service_logs",
  "service_stop",
  "shell_open",
  "shell_read",
  "shell_write",
  "shell_signal",
  "shell_close",
};

const std::vector<std::string> reference_methods = {
  "list_environments",
  "pull_environment",
  "inspect_environment",
  "prune_environments",
  "create_vm",
  "start_vm",
  "exec_vm",
  "stop_vm",
  "delete_vm",
  "status_vm",
  "network_info_vm",
  "reap_expired",
  "run_in_vm",
  "create_workspace",
  "list_workspaces",
  "update_workspace",
  "status_workspace",
  "logs_workspace",
  "delete_workspace",
  "stop_workspace",
  "start_workspace",
  "push_workspace_sync",
  "exec_workspace",
  "export_workspace",
  "diff_workspace",
  "list_workspace_files",
  "read_workspace_file",
  "write_workspace_file",
  "apply_workspace_patch",
  "create_snapshot",
  "list_snapshots",
  "delete_snapshot",
  "reset_workspace",
  "start_service",
  "list_services",
  "status_service",
  "logs_service",
  "stop_service",
  "open_shell",
  "read_shell",
  "write_shell",
  "signal_shell",
  "close_shell",
  "export_workspace_disk",
  "list_workspace_disk",
  "read_workspace_disk",
  "create_server",
};

const std::set<std::string> core_tools = {
  "workspace_create",    "workspace_list",       "workspace_update",
  "workspace_status",    "workspace_logs",       "workspace_delete",
  "workspace_sync_push", "workspace_exec",       "workspace_export",
  "workspace_diff",      "workspace_reset",      "workspace_file_list",
  "workspace_file_read", "workspace_file_write", "workspace_patch_apply",
};

} // namespace

TEST_CASE("the contract names every public command, tool and method",
          "[contract]") {
  for (const auto& words : reference_cli) {
    INFO(words);
    CHECK(contract::find_cli(words) != nullptr);
  }
  for (const auto& tool : reference_tools) {
    INFO(tool);
    CHECK(contract::find_tool(tool) != nullptr);
  }
  for (const auto& method : reference_methods) {
    INFO(method);
    CHECK(contract::find_method(method) != nullptr);
  }
}

TEST_CASE("names are unique and every parameter is documented", "[contract]") {
  std::set<std::string_view> cli, tools, methods;
  for (const auto& op : contract::operations()) {
    INFO(op.cli << " / " << op.tool << " / " << op.method);
    CHECK((op.cli.empty() || cli.insert(op.cli).second));
    CHECK((op.tool.empty() || tools.insert(op.tool).second));
    CHECK((op.method.empty() || methods.insert(op.method).second));
    CHECK_FALSE(op.summary.empty());
    if (!op.cli.empty())
      CHECK_THAT(std::string{op.example},
                 Catch::StartsWith("pyro " + std::string{op.cli}));
    std::set<std::string_view> names;
    for (const auto& p : op.params) {
      INFO(p.name);
      CHECK(names.insert(p.name).second);
      CHECK_FALSE(p.description.empty());
      CHECK_FALSE((p.cli_only && p.api_only));
    }
  }
}

TEST_CASE("profiles expose the documented tool sets", "[contract]") {
  std::set<std::string> vm_run, core;
  for (const auto& op : contract::operations()) {
    if (op.profiles & contract::vm_run_profile)
      vm_run.insert(std::string{op.tool});
    if (op.profiles & contract::workspace_core_profile)
      core.insert(std::string{op.tool});
    if (!op.tool.empty())
      CHECK((op.profiles & contract::workspace_full_profile) != 0);
  }
  CHECK(vm_run == std::set<std::string>{"vm_run"});
  CHECK(core == core_tools);
}

TEST_CASE("every CLI command has --help with an example", "[contract][cli]") {
  for (const auto& op : contract::operations()) {
    if (op.cli.empty())
      continue;
    auto argv = contract::cli_words(op.cli);
    argv.insert(argv.begin(), PYRO_BIN);
    argv.push_back("--help");
    auto r = test::run_process(argv);
    INFO(op.cli << "\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("Example:")
                        && Catch::Contains(std::string{op.example}));
    for (const auto& p : op.params)
      if (!p.api_only && !p.positional
          && p.type != contract::value_type::command)
        CHECK_THAT(r.out, Catch::Contains(p.cli_flag()));
  }
}
