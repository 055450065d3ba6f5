"""Read a provider's rate-limit response headers: how much it allows, how much is left, how fast it refills.

Two dialects, both read from the same mapping (names in any case):

- **OpenAI** (and compatible servers): ``x-ratelimit-limit-requests``,
  ``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests``, and
  the same three for ``-tokens``. The reset is a duration until the allowance
  is whole again, in Go's form: ``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``.
- **Anthropic**: ``anthropic-ratelimit-requests-limit``, ``-remaining`` and
  ``-reset``, and the same for ``-tokens`` (or, when that family is absent,
  ``-input-tokens``). The reset is an RFC 3339 timestamp, and the limits are
  per minute, refilled continuously.

Each allowance is a token bucket: ``limit`` is what it holds when full,
``remaining`` what was left once the request was counted, and ``rate_per_s``
how fast it refills (units per second). OpenAI's refill rate is read from the
headers themselves, ``(limit - remaining - 1) / reset`` (``remaining`` is a
whole number, rounded down, so this never reads faster than the server
refills), which holds whatever the window (requests per minute, per day, or
per second on a local server); with less than two used it tells nothing, and
the rate is None. Anthropic's
timestamps are to the second, too coarse for that, so its rate is
``limit / 60``. A header that is missing or malformed gives no allowance
rather than an error: the headers are advice, and the answer is still good.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Allowance", "RateLimits", "parse_duration", "parse_rate_limits"]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PER_MINUTE = 60.0


@dataclass(frozen=True)
class Allowance:
    """One bucket the provider keeps for the caller: units (requests or tokens), and units per second.

    ``rate_per_s`` is None when these headers do not tell it; ``reset_s`` is
    the seconds until the bucket is full again, when they say.
    """

    limit: float
    remaining: float
    rate_per_s: float | None
    reset_s: float | None = None


@dataclass(frozen=True)
class RateLimits:
    """The allowances one response states; None where its headers do not state one."""

    requests: Allowance | None = None
    tokens: Allowance | None = None


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``"20ms"``, ``"1s"``, ``"6m0s"``, ``"1.5s"``), or None if it is not one.

    A bare number is taken as seconds.
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                return None
            seconds += float(match[1]) * _UNIT_S[match[2]]
            pos = match.end()
        if pos == 0 or pos != len(text):
            return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _timestamp(text: str | None) -> bool:
    if text is None:
        return False
    try:
        dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _openai(headers: Mapping[str, str], kind: str) -> Allowance | None:
    limit = _number(headers, f"x-ratelimit-limit-{kind}")
    remaining = _number(headers, f"x-ratelimit-remaining-{kind}")
    if limit is None or remaining is None or limit <= 0:
        return None
    remaining = min(remaining, limit)
    reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
    rate = None
    if reset is not None and reset > 0 and limit - remaining >= 2:
        rate = (limit - remaining - 1) / reset  # remaining is rounded down: a rate no faster than the server's
    return Allowance(limit, remaining, rate, reset)


def _anthropic(headers: Mapping[str, str], kind: str) -> Allowance | None:
    prefix = f"anthropic-ratelimit-{kind}"
    limit = _number(headers, f"{prefix}-limit")
    remaining = _number(headers, f"{prefix}-remaining")
    if limit is None or remaining is None or limit <= 0:
        return None
    if f"{prefix}-reset" in headers and not _timestamp(headers[f"{prefix}-reset"]):
        return None
    return Allowance(limit, min(remaining, limit), limit / _PER_MINUTE)


def parse_rate_limits(headers: Mapping[str, str]) -> RateLimits:
    """The request and token allowances stated by ``headers`` (OpenAI's or Anthropic's names)."""
    lower = {name.lower(): value for name, value in headers.items()}
    requests = _openai(lower, "requests") or _anthropic(lower, "requests")
    tokens = _openai(lower, "tokens") or _anthropic(lower, "tokens") or _anthropic(lower, "input-tokens")
    return RateLimits(requests, tokens)
