"""Warnings that point at the caller's line, not at the library's.

Python shows a warning once per line that raised it and lets a filter match
the module it came from; both only work when the warning is attributed to the
caller's code. :func:`warn_at_caller` counts the frames that belong to this
package (``llm_client``, its exercises included) and warns from the first one
outside it.

A batch runs its calls on worker threads (``run_batch``) or tasks
(``arun_batch``), whose stacks start in the standard library's thread pool
or event loop, not at the caller's line. The batch notes the line that
started it (:func:`call_site`) and runs each call with it (:func:`at_site`);
a warning whose first frame outside the package is the standard library's
is then attributed to that line.
"""

from __future__ import annotations

import sys
import sysconfig
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

__all__ = ["CallSite", "at_site", "call_site", "site_var", "warn_at_caller"]

_PACKAGE = str(Path(__file__).resolve().parent.parent) + "/"
_STDLIB = tuple({sysconfig.get_paths()["stdlib"] + "/", str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + "/"})

T = TypeVar("T")


@dataclass(frozen=True)
class CallSite:
    """The line outside llm_client that started a batch: its file, line and module globals."""

    filename: str
    lineno: int
    module_globals: dict[str, Any]


#: The line that started the batch this call belongs to, if any (each worker thread and task sees its own).
site_var: ContextVar[CallSite | None] = ContextVar("llm_client_call_site", default=None)


def _first_outside(frame: FrameType | None) -> tuple[FrameType | None, int]:
    """The first frame from ``frame`` outward that is not in the package, and how many frames were passed."""
    passed = 0
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        passed += 1
    return frame, passed


def call_site() -> CallSite | None:
    """The first line outside llm_client that led to the caller of this function, or None (also when that
    line is the standard library's: ``asyncio.run(arun_batch(...))`` has no line of the caller's above it)."""
    frame, _ = _first_outside(sys._getframe(1))
    if frame is None or frame.f_code.co_filename.startswith(_STDLIB):
        return None
    return CallSite(frame.f_code.co_filename, frame.f_lineno, frame.f_globals)


def at_site(site: CallSite | None, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` with warnings that start in the standard library attributed to ``site``."""
    token = site_var.set(site)
    try:
        return work(*args)
    finally:
        site_var.reset(token)


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)``, attributed to the first line outside llm_client that led here,
    or, when that is the standard library's (a batch's thread pool or event loop), to the batch's line."""
    frame, passed = _first_outside(sys._getframe(1))
    site = site_var.get()
    if site is not None and (frame is None or frame.f_code.co_filename.startswith(_STDLIB)):
        module_globals = site.module_globals
        warnings.warn_explicit(
            message,
            category,
            site.filename,
            site.lineno,
            module=str(module_globals.get("__name__", "")) or None,
            registry=module_globals.setdefault("__warningregistry__", {}),
            module_globals=module_globals,
        )
        return
    warnings.warn(message, category, stacklevel=passed + 2)
