"""Exercise 7 in the child: TokenBucket.take over a sequence of calls."""

from __future__ import annotations

from typing import Any


def take_sequence(channel: Any, *, rate: Any, capacity: Any, start: float, calls: list[list[Any]]) -> Any:
    """A bucket ``TokenBucket(rate, capacity, start=start)`` asked ``take(now, amount)`` for each ``[now, amount]``
    of ``calls``; returns, per call, ``[wait, tokens, updated]`` or the error it raised, and stops at an error."""
    from llm_client import TokenBucket

    bucket = TokenBucket(rate, capacity, start=start)
    seen: list[Any] = []
    for now, amount in calls:
        try:
            wait = bucket.take(now) if amount is None else bucket.take(now, amount)
        except (TypeError, ValueError) as exc:
            seen.append(exc)
            break
        seen.append([wait, bucket.tokens, bucket.updated])
    return seen


OPS = {"ex7.take_sequence": take_sequence}
