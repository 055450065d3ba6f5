"""Warnings that point at the caller's line, not at the library's.

Python shows a warning once per line that raised it and lets a filter match
the module it came from; both only work when the warning is attributed to the
caller's code. :func:`warn_at_caller` counts the frames that belong to this
package (``llm_client``, its exercises included) and warns from the first one
outside it.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["warn_at_caller"]

_PACKAGE = str(Path(__file__).resolve().parent.parent) + "/"


def _stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside the package, seen from warn_at_caller's caller."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)``, attributed to the first line outside llm_client that led here."""
    warnings.warn(message, category, stacklevel=_stacklevel())
