"""Names a package exports, loaded from their modules on first use (PEP 562).

So ``import llm_client`` loads no module of any exercise, and using one name
loads only the modules it needs: a broken exercise file costs only the names
that live in it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load(package: str, exports: Mapping[str, str], name: str, namespace: dict[str, Any]) -> Any:
    """Return export ``name`` of ``package`` from its module in ``exports``, kept in ``namespace`` for next time.

    Raises AttributeError, as for any missing attribute, when ``package`` does not export ``name``.
    """
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


def by_name(modules: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{"pkg.a": ("A", "B"), "pkg.b": ("C",)}`` -> ``{"A": "pkg.a", "B": "pkg.a", "C": "pkg.b"}``."""
    return {name: module for module, names in modules.items() for name in names}
