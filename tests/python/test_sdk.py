"""The Python SDK against real sandboxes: every method family, errors,
and calls from several threads at once."""

import inspect
import threading
import time

import pytest

import pyro_mcp
from pyro_mcp import (AlreadyExistsError, FailedPreconditionError,
                      InvalidArgumentError, NotFoundError, Pyro, PyroError)


def test_environments_and_doctor(pyro):
    names = [e["name"] for e in pyro.list_environments()["environments"]]
    assert "debian:12" in names
    assert pyro.inspect_environment("busybox")["installed"] is True
    report = pyro.doctor()
    assert report["runtime"] == "PASS"
    assert report["capabilities"]["guest_exec"]["available"] is True


def test_signatures_follow_the_contract():
    sig = inspect.signature(Pyro.create_workspace)
    assert list(sig.parameters)[:2] == ["self", "environment"]
    assert sig.parameters["ttl_seconds"].default == 600
    assert sig.parameters["ttl_seconds"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(Pyro.exec_workspace).parameters["timeout_seconds"].default == 30
    assert inspect.signature(Pyro.exec_vm).parameters["vm_id"].kind is \
        inspect.Parameter.POSITIONAL_OR_KEYWORD
    with pytest.raises(TypeError, match="bogus"):
        Pyro.exec_workspace(Pyro.__new__(Pyro), "ws", command="true", bogus=1)
    with pytest.raises(TypeError, match="command"):
        Pyro.exec_workspace(Pyro.__new__(Pyro), "ws")


def test_workspace_lifecycle(pyro, workspace):
    status = pyro.status_workspace(workspace)
    assert status["state"] == "started" and status["backend"] == "sandbox"
    assert [w["workspace_id"] for w in pyro.list_workspaces()["workspaces"]] == [workspace]
    updated = pyro.update_workspace(workspace, name="renamed", labels={"team": "py"})
    assert updated["name"] == "renamed" and updated["labels"] == {"team": "py"}
    ran = pyro.exec_workspace(workspace, command="echo hi; exit 3")
    assert ran["stdout"] == "hi\n" and ran["exit_code"] == 3
    assert pyro.logs_workspace(workspace)["count"] == 1
    assert pyro.stop_workspace(workspace)["state"] == "stopped"
    with pytest.raises(FailedPreconditionError):
        pyro.exec_workspace(workspace, command="true")
    assert pyro.start_workspace(workspace)["state"] == "started"
    assert pyro.delete_workspace(workspace)["deleted"] is True
    with pytest.raises(NotFoundError) as err:
        pyro.status_workspace(workspace)
    assert err.value.code == "not_found" and isinstance(err.value, PyroError)


def test_files_patch_diff_export_sync(pyro, workspace, tmp_path):
    pyro.write_workspace_file(workspace, "a.txt", text="one\ntwo\n")
    assert pyro.read_workspace_file(workspace, "a.txt")["content"] == "one\ntwo\n"
    names = [e["path"] for e in pyro.list_workspace_files(workspace, "/workspace")["entries"]]
    assert any(n.endswith("a.txt") for n in names)
    patch = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n"
    pyro.apply_workspace_patch(workspace, patch=patch)
    diff = pyro.diff_workspace(workspace)
    assert diff["changed"] is True and "+three" in diff["patch"]
    out = tmp_path / "a-out.txt"
    exported = pyro.export_workspace(workspace, "a.txt", output_path=str(out))
    assert exported["artifact_type"] == "file" and out.read_text() == "one\nthree\n"
    with pytest.raises(AlreadyExistsError):
        pyro.export_workspace(workspace, "a.txt", output_path=str(out))
    src = tmp_path / "src"
    src.mkdir()
    (src / "synced.txt").write_text("from the host\n")
    pyro.push_workspace_sync(workspace, str(src), dest="/workspace/in")
    assert pyro.read_workspace_file(workspace, "in/synced.txt")["content"] == "from the host\n"
    with pytest.raises(InvalidArgumentError):
        pyro.read_workspace_file(workspace, "../etc/passwd")


def test_snapshots_and_reset(pyro, workspace):
    pyro.write_workspace_file(workspace, "keep.txt", text="v1")
    pyro.create_snapshot(workspace, "cp")
    assert [s["name"] for s in pyro.list_snapshots(workspace)["snapshots"]] == ["cp"]
    pyro.write_workspace_file(workspace, "keep.txt", text="v2")
    pyro.reset_workspace(workspace, snapshot="cp")
    assert pyro.read_workspace_file(workspace, "keep.txt")["content"] == "v1"
    pyro.reset_workspace(workspace)
    with pytest.raises(NotFoundError):
        pyro.read_workspace_file(workspace, "keep.txt")
    pyro.delete_snapshot(workspace, "cp")
    assert pyro.list_snapshots(workspace)["count"] == 0


def test_shells(pyro, workspace):
    shell = pyro.open_shell(workspace, cols=80, rows=24)["shell_id"]
    pyro.write_shell(workspace, shell, input="stty size")
    seen = ""
    for _ in range(50):
        seen = pyro.read_shell(workspace, shell, wait_for_idle_ms=100, plain=True)["output"]
        if "24 80" in seen:
            break
    assert "24 80" in seen
    pyro.write_shell(workspace, shell, input="sleep 100")
    time.sleep(0.3)
    pyro.signal_shell(workspace, shell, signal_name="INT")
    assert pyro.close_shell(workspace, shell)["closed"] is True


def test_services(pyro, workspace):
    started = pyro.start_service(
        workspace, "web", command="sleep 0.2; touch up; exec sleep 60",
        readiness={"type": "file", "path": "up"}, ready_interval_ms=50)
    assert started["state"] == "ready"
    assert [s["name"] for s in pyro.list_services(workspace)["services"]] == ["web"]
    assert pyro.status_service(workspace, "web")["state"] == "ready"
    assert "stdout" in pyro.logs_service(workspace, "web", tail_lines=5)
    assert pyro.stop_service(workspace, "web")["state"] == "stopped"
    assert pyro.status_workspace(workspace)["service_counts"]["stopped"] == 1


def test_secrets_are_redacted(pyro):
    ws = pyro.create_workspace(
        "busybox", secrets=[{"name": "TOKEN", "value": "py-secret-1234"}])["workspace_id"]
    ran = pyro.exec_workspace(ws, command="echo $TOKEN", secret_env=["TOKEN"])
    assert ran["stdout"] == "[REDACTED:TOKEN]\n"
    assert pyro.status_workspace(ws)["secrets"] == [{"name": "TOKEN", "source_kind": "literal"}]


def test_vms_and_reaping(pyro):
    ran = pyro.run_in_vm("busybox", command="echo once")
    assert ran["stdout"] == "once\n" and ran["cleanup"]["deleted"] is True
    vm = pyro.create_vm(environment="busybox")["vm_id"]
    assert pyro.status_vm(vm)["vm_id"] == vm
    assert pyro.network_info_vm(vm)["network_policy"] == "off"
    assert pyro.exec_vm(vm, command="echo vm")["stdout"] == "vm\n"
    with pytest.raises(NotFoundError):
        pyro.status_vm(vm)  # exec_vm cleans up
    short = pyro.create_workspace("busybox", ttl_seconds=1)["workspace_id"]
    time.sleep(1.5)
    assert short in pyro.reap_expired()["deleted"]


def test_threads_run_at_once(pyro):
    ids = [pyro.create_workspace("busybox")["workspace_id"] for _ in range(2)]
    results = []

    def run(ws):
        results.append(pyro.exec_workspace(ws, command="sleep 1; echo done"))

    began = time.monotonic()
    threads = [threading.Thread(target=run, args=(ws,)) for ws in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["stdout"] for r in results] == ["done\n", "done\n"]
    assert time.monotonic() - began < 1.9, "the GIL was held during calls"


def test_create_server_profiles():
    core = pyro_mcp.create_server("workspace-core")
    assert "workspace_exec" in core.tools and "shell_open" not in core.tools
    assert pyro_mcp.create_server("vm-run").tools == ["vm_run"]
    with pytest.raises(ValueError):
        pyro_mcp.create_server("everything")
