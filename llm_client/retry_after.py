"""Read how long a provider asked us to wait, from the headers of a 429, 408, 409, 5xx or 529 response."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import UTC  # needed by ex3  # noqa: F401
from email.utils import parsedate_to_datetime  # needed by ex3  # noqa: F401

from llm_client.checks import check_number

__all__ = ["parse_retry_after"]


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Return the wait the server asked for, in seconds, or None.

    Understood, in this order (header names in any case; a plain dict or
    ``httpx.Headers``):

    1. ``retry-after-ms: 1500`` -- milliseconds. Not standard: Azure's services
       send it, and the official OpenAI and Anthropic SDKs read it first.
    2. ``Retry-After: 2`` -- seconds (RFC 9110 section 10.2.3 allows a whole
       number); ``Retry-After: 0.5`` is read too, a lenient extension.
    3. ``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`` -- an HTTP-date (RFC 9110
       section 5.6.7, always GMT), taken relative to ``now`` (a Unix timestamp
       in seconds; default ``time.time()``).
       All three forms RFC 9110 allows are read, as GMT: IMF-fixdate (above),
       RFC 850 (``Wednesday, 21-Oct-26 07:28:00 GMT``) and asctime
       (``Wed Oct 21 07:28:00 2026``, which names no zone).

    Returns None when no such header is present or none can be parsed (a
    garbage value, a negative number, NaN, infinity); an unusable
    ``retry-after-ms`` falls back to ``Retry-After``. Never negative: a date
    in the past gives 0.0.

    Raises TypeError when ``headers`` is not a mapping (a raw header line,
    a list of pairs), and TypeError/ValueError when ``now`` is not a finite number.
    """
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of header names to values, got {type(headers).__name__}")
    now = time.time() if now is None else check_number("now", now)
    # TODO(ex3): write parse_retry_after; notebooks/04_ex3_rate_limits.ipynb walks you through it.
    raise NotImplementedError("ex3: parse_retry_after is not written yet (see notebooks/04_ex3_rate_limits.ipynb)")


#: Digits, an optional fraction and an optional exponent: no sign, no "_", no "inf" or "nan", which
#: Python's float() would read but no server means.
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _parse_seconds(value: str | None) -> float | None:
    """A finite, non-negative number of (milli)seconds written in plain digits, or None.

    A sign (so a negative wait), digit separators, ``inf`` and ``nan`` are invalid.
    """
    if value is None or _NUMBER.fullmatch(value) is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
