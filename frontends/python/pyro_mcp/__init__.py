"""pyro: sandboxes for coding agents, from Python.

    from pyro_mcp import Pyro
    pyro = Pyro()
    ws = pyro.create_workspace("debian:12")
    print(pyro.exec_workspace(ws["workspace_id"], command="git --version"))
    pyro.delete_workspace(ws["workspace_id"])

Every method of the C++ SDK is here with the same name, positional
arguments, keyword arguments and defaults (they come from pyro's one
contract table); results are plain dicts. Failures raise a PyroError
subclass named for the error code (NotFoundError, InvalidArgumentError, ...).
"""

import inspect
import json as _json

from . import _pyro_mcp

__all__ = ["Pyro", "PyroError", "McpServer", "create_server"]


class PyroError(Exception):
    """A pyro operation failed; `code`, `message` and `hint` say why."""

    code = "internal"

    def __init__(self, message, hint="", code=None):
        super().__init__(message if not hint else f"{message} (hint: {hint})")
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code


_ERRORS = {}
for _row in _json.loads(_pyro_mcp.error_table()):
    _cls = type(_row["exception"], (PyroError,), {"code": _row["code"]})
    _ERRORS[_row["code"]] = _cls
    globals()[_row["exception"]] = _cls
    __all__.append(_row["exception"])

_OPERATIONS = _json.loads(_pyro_mcp.operations())
_PROFILES = {"vm-run": 1, "workspace-core": 2, "workspace-full": 4}
_MISSING = object()


def _raise(error_text):
    err = _json.loads(error_text).get("error", {})
    cls = _ERRORS.get(err.get("code"), PyroError)
    raise cls(err.get("message", "unknown error"), err.get("hint", ""),
              err.get("code"))


def _make_method(op):
    params = [p for p in op["params"] if not p["cli_only"]]
    positional = [p for p in params if p["positional"]]
    if not positional:
        # SDK-only operations (the vm_* family): the leading required
        # argument is positional, as in exec_vm(vm_id, *, command).
        positional = [p for p in params if p["required"]][:1]
    keyword = [p for p in params if p not in positional]
    sig_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    for p in positional:
        sig_params.append(inspect.Parameter(
            p["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD))
    for p in keyword:
        default = p["default"] if p["has_default"] else (
            inspect.Parameter.empty if p["required"] else None)
        sig_params.append(inspect.Parameter(
            p["name"], inspect.Parameter.KEYWORD_ONLY, default=default))
    signature = inspect.Signature(sig_params)

    def method(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{op['method']}(): {e}") from None
        bound.apply_defaults()
        call_args = {k: v for k, v in bound.arguments.items()
                     if k != "self" and v is not None}
        ok, text = self._core.call(op["method"], _json.dumps(call_args))
        if not ok:
            _raise(text)
        return _json.loads(text)

    method.__name__ = op["method"]
    method.__qualname__ = "Pyro." + op["method"]
    method.__signature__ = signature
    lines = [op["summary"], ""]
    for p in params:
        lines.append(f"{p['name']}: {p['description']}")
    method.__doc__ = "\n".join(lines)
    return method


class Pyro:
    """The pyro SDK. Thread-safe: calls release the GIL and may run from
    several threads at once."""

    def __init__(self, home=None, timeout_seconds=600.0):
        self._core = _pyro_mcp.Core(home or "", float(timeout_seconds))


for _op in _OPERATIONS:
    if _op["method"] != "create_server":
        setattr(Pyro, _op["method"], _make_method(_op))


class McpServer:
    """An MCP server over this SDK; `run()` serves until its input ends
    (stdio) or the process is stopped (http)."""

    def __init__(self, profile, pyro=None):
        if profile not in _PROFILES:
            raise ValueError(
                f"unknown profile '{profile}': use vm-run, workspace-core "
                "or workspace-full")
        self.profile = profile
        self.tools = [op["tool"] for op in _OPERATIONS
                      if op["tool"] and op["profiles"] & _PROFILES[profile]]
        self._pyro = pyro or Pyro()

    def run(self, transport="stdio", host="127.0.0.1", port=8765):
        return self._pyro._core.serve(self.profile, transport, host, port)


def create_server(profile="workspace-full", pyro=None):
    """An MCP server exposing the tools of `profile`."""
    return McpServer(profile, pyro)
