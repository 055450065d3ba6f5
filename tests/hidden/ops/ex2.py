"""Exercise 2 in the child: make_cache_key over a batch of requests, and its refusal of what is no request.

Two batches run in a package that is not quite today's:

- ``ex2.keys_with_added_field``: LLMRequest with one field added later (``seed``, default None), as if
  request.py had gained it: a fresh import of the package in which ``llm_client.request.LLMRequest`` has the
  field from the start, so every module (cache_key.py's own ``LLMRequest`` included) sees it; the package
  of the other operations is put back afterwards.
- ``ex2.keys_elsewhere``: the keys as another machine computes them: the host name, the user and the node
  id the standard library reports are another machine's, from before the package is imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType, SimpleNamespace
from typing import Any

#: The field LLMRequest gains in ``ex2.keys_with_added_field``: an optional setting, unset (None) by default.
ADDED_FIELD = "seed"
#: Another machine's host name and user (``ex2.keys_elsewhere``).
OTHER_HOST = "another-machine"
OTHER_USER = "another-user"


def _build(spec: dict[str, Any]) -> Any:
    """The LLMRequest ``spec`` describes: its fields (``stop`` a list), how ``stop`` is passed (``stop_as``:
    "tuple" or "list") and how the request is made (``build``: "keywords", "positional" or "replace")."""
    from llm_client import LLMRequest

    fields = dict(spec)
    stop_as = fields.pop("stop_as", "tuple")
    build = fields.pop("build", "keywords")
    if "stop" in fields:
        fields["stop"] = tuple(fields["stop"]) if stop_as == "tuple" else list(fields["stop"])
    if build == "positional":
        names = [field.name for field in dataclasses.fields(LLMRequest)]
        return LLMRequest(*(fields[name] for name in names if name in fields))
    if build == "replace":
        return dataclasses.replace(LLMRequest(model="other-model", prompt="other prompt", stop=("x",)), **fields)
    return LLMRequest(**fields)


def keys(channel: Any, *, requests: list[dict[str, Any]]) -> Any:
    """``make_cache_key`` of each request ``requests`` describes (see ``_build``), in order."""
    from llm_client import make_cache_key

    built = [_build(spec) for spec in requests]
    return [make_cache_key(request) for request in built]


@dataclasses.dataclass(frozen=True)
class _LookAlike:
    """A request in all but its type."""

    model: str = "gpt-test"
    prompt: str = "hi"
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None


def refuse(channel: Any, *, what: str) -> Any:
    """Key one valid request (a stub fails here already), then the non-request ``what`` names."""
    from llm_client import LLMRequest, make_cache_key

    first = make_cache_key(LLMRequest(model="gpt-test", prompt="hi"))
    fields = {
        "model": "gpt-test",
        "prompt": "hi",
        "system_prompt": None,
        "temperature": None,
        "max_tokens": None,
        "top_p": None,
        "stop": (),
        "reasoning_effort": None,
    }
    things: dict[str, Any] = {
        "none": None,
        "str": "gpt-test|hi",
        "bytes": b"gpt-test|hi",
        "dict": fields,
        "list": list(fields.values()),
        "namespace": SimpleNamespace(**fields),
        "lookalike": _LookAlike(),
        "the_class": LLMRequest,
        "int": 0,
    }
    return [type(first).__name__, make_cache_key(things[what])]


def unset_fields(channel: Any) -> Any:
    """The fields of LLMRequest whose default is None (a setting left unset, never sent), in order."""
    from llm_client import LLMRequest

    return [field.name for field in dataclasses.fields(LLMRequest) if field.default is None]


# -- a field added to LLMRequest later --------------------------------------------------------------------


def _is_package_module(name: str) -> bool:
    return name == "llm_client" or name.startswith("llm_client.")


def _with_added_field(base: type) -> type:
    """``base`` (LLMRequest) with ``ADDED_FIELD`` added last, under the same name and module."""
    extended = dataclasses.make_dataclass(
        base.__name__,
        [(ADDED_FIELD, "int | None", dataclasses.field(default=None))],
        bases=(base,),
        frozen=True,
        namespace={"__doc__": base.__doc__},
    )
    extended.__module__ = base.__module__
    extended.__qualname__ = base.__qualname__
    return extended


class _AddedFieldLoader(importlib.abc.Loader):
    """Loads llm_client.request as it is, then gives its LLMRequest the added field."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        module.LLMRequest = _with_added_field(module.LLMRequest)  # type: ignore[attr-defined]


class _AddedFieldFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "llm_client.request":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _AddedFieldLoader(spec.loader)
        return spec


#: The package imported with the added field, kept between operations (imported once per child).
_with_field: dict[str, ModuleType] = {}


@contextmanager
def _package_with_added_field() -> Iterator[None]:
    """Within: ``llm_client`` is a package whose LLMRequest has ``ADDED_FIELD``; after: the usual one."""
    saved = {name: sys.modules.pop(name) for name in [n for n in sys.modules if _is_package_module(n)]}
    try:
        if _with_field:
            sys.modules.update(_with_field)
        else:
            finder = _AddedFieldFinder()
            sys.meta_path.insert(0, finder)
            try:
                importlib.import_module("llm_client.request")
            finally:
                sys.meta_path.remove(finder)
        yield
    finally:
        _with_field.update({name: sys.modules.pop(name) for name in [n for n in sys.modules if _is_package_module(n)]})
        sys.modules.update(saved)


def keys_with_added_field(channel: Any, *, requests: list[dict[str, Any]]) -> Any:
    """``keys`` with LLMRequest given ``ADDED_FIELD`` (a spec may set it)."""
    with _package_with_added_field():
        return keys(channel, requests=requests)


# -- another machine ----------------------------------------------------------------------------------


def _as_if_on_another_machine() -> None:
    """Make the standard library report another machine's host name, user and node id (once per child), and
    forget the package, so that what it reads when imported is read again."""
    import getpass
    import os
    import platform
    import socket
    import uuid

    if socket.gethostname() == OTHER_HOST:
        return
    real_getfqdn = socket.getfqdn
    real_uname = platform.uname()
    socket.gethostname = lambda: OTHER_HOST
    socket.getfqdn = lambda name="": real_getfqdn(name) if name else OTHER_HOST + ".example.org"
    platform.node = lambda: OTHER_HOST
    platform.uname = lambda: real_uname._replace(node=OTHER_HOST)
    if hasattr(os, "uname"):  # not on Windows
        real_os_uname = os.uname()
        os.uname = lambda: os.uname_result(  # type: ignore[assignment]
            (real_os_uname.sysname, OTHER_HOST, real_os_uname.release, real_os_uname.version, real_os_uname.machine)
        )
    uuid.getnode = lambda: 0x02_AB_CD_EF_01_23
    getpass.getuser = lambda: OTHER_USER
    os.environ.update(
        HOSTNAME=OTHER_HOST, COMPUTERNAME=OTHER_HOST, USER=OTHER_USER, LOGNAME=OTHER_USER, USERNAME=OTHER_USER
    )
    for name in [n for n in sys.modules if _is_package_module(n)]:
        del sys.modules[name]


def keys_elsewhere(channel: Any, *, requests: list[dict[str, Any]]) -> Any:
    """``keys`` as another machine computes them."""
    _as_if_on_another_machine()
    return keys(channel, requests=requests)


OPS = {
    "ex2.keys": keys,
    "ex2.refuse": refuse,
    "ex2.unset_fields": unset_fields,
    "ex2.keys_with_added_field": keys_with_added_field,
    "ex2.keys_elsewhere": keys_elsewhere,
}
