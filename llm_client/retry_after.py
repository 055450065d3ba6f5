"""How long to wait when a provider says so (exercise 4).

:func:`parse_retry_after` reads the wait a provider asked for from the headers
of a 429, 408, 409, 5xx or 529 response; the provider puts it on the error as
``retry_after``. :func:`retry_delay` decides whether to trust it or to back off.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC  # needed by ex4  # noqa: F401
from email.utils import parsedate_to_datetime  # needed by ex4  # noqa: F401

from llm_client._internal.checks import check_int, check_number
from llm_client.errors import LLMError

__all__ = ["parse_retry_after", "retry_delay"]


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Return the wait the server asked for, in seconds, or None.

    ``headers`` is a plain dict or ``httpx.Headers``; names match in any case.
    ``retry-after-ms`` (milliseconds; not standard: Azure's services send it,
    and the official OpenAI and Anthropic SDKs read it first) wins over
    ``Retry-After`` when it is usable. ``Retry-After`` is a number of seconds
    (RFC 9110 section 10.2.3 says a whole number; a fraction is read too) or
    an HTTP-date (RFC 9110 section 5.6.7), taken relative to ``now`` (a Unix
    timestamp in seconds; default ``time.time()``). An HTTP-date is GMT in all
    three forms a recipient must read, whatever the machine's time zone,
    asctime's included although it names no zone (``parsedate_to_datetime``
    gives a naive datetime for it, and a naive datetime's ``timestamp()`` is
    local time).

    None when there is no usable value (no such header, garbage, a negative
    number, NaN, infinity). Never negative: a date in the past gives 0.0.

    Examples, with ``now`` 30 s before 07:28:00 GMT on 21 Oct 2026:

    - ``{"Retry-After": "2"}`` gives 2.0, ``{"retry-after": "0.5"}`` 0.5, and
      ``{"retry-after-ms": "1500"}`` 1.5;
    - ``{"retry-after-ms": "250", "Retry-After": "1"}`` gives 0.25;
    - ``Wed, 21 Oct 2026 07:28:00 GMT``, ``Wednesday, 21-Oct-26 07:28:00 GMT``
      and ``Wed Oct 21 07:28:00 2026`` all give 30.0, in any local time zone;
    - ``Wed, 21 Oct 2026 07:27:00 GMT`` gives 0.0;
    - ``soon``, ``-5``, ``nan``, ``inf``, or no such header give None.

    Raises TypeError when ``headers`` is not a mapping (a raw header line,
    a list of pairs), and TypeError/ValueError when ``now`` is not a finite number.
    """
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping of header names to values, got {type(headers).__name__}")
    now = time.time() if now is None else check_number("now", now)
    # TODO(ex4): write parse_retry_after; notebooks/04_ex4_rate_limits.ipynb walks you through it.
    raise NotImplementedError("ex4: parse_retry_after is not written yet (see notebooks/04_ex4_rate_limits.ipynb)")


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


def retry_delay(
    error: LLMError,
    attempt: int,
    *,
    max_retry_after_s: float,
    backoff: Callable[[int], float],
) -> float:
    """Seconds to wait after ``error`` ended attempt ``attempt`` (counted from 0).

    The provider's own wait, ``error.retry_after`` (a ProviderError's: set on a
    429, and on a 408, 409, 5xx or 529 that sent Retry-After), when it is known
    and at most ``max_retry_after_s``; else ``backoff(attempt)``, the jittered
    backoff. ``backoff`` draws a random number, so it is only called when it is
    needed. Invalid arguments raise TypeError or ValueError naming the argument.

    Examples, with ``max_retry_after_s=60``: a 429 asking for 2 s gives 2.0
    and a 503 asking for 3 s gives 3.0, neither calling ``backoff``; a wait of
    0 gives 0.0; a 429 asking for 3600 s, or asking for nothing, gives
    ``backoff(attempt)``.
    """
    if not isinstance(error, LLMError):
        raise TypeError(f"error must be an LLMError, got {type(error).__name__}")
    check_int("attempt", attempt, minimum=0)
    check_number("max_retry_after_s", max_retry_after_s, minimum=0.0)
    if not callable(backoff):
        raise TypeError(f"backoff must be callable, got {type(backoff).__name__}")
    # TODO(ex4): write retry_delay; notebooks/04_ex4_rate_limits.ipynb walks you through it.
    raise NotImplementedError("ex4: retry_delay is not written yet (see notebooks/04_ex4_rate_limits.ipynb)")
