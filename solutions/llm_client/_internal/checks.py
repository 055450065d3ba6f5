"""Argument checks shared by every public function: one clear error naming the argument."""

from __future__ import annotations

import math
from typing import Any


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strictly_positive: bool = False,
) -> float:
    """Return ``value`` as a float, or raise naming ``name``.

    TypeError when it is not an int or float (bools are refused);
    ValueError when it is NaN, infinite, below ``minimum``, above ``maximum``,
    or (with ``strictly_positive``) zero or less.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if strictly_positive and number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return number


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) >= ``minimum``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def check_text(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """Return ``value`` if it is a non-blank str (or None when allowed), else raise naming ``name``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} must be valid Unicode text (it holds a lone surrogate at {exc.start})") from exc
    return value
