"""How long to wait after a 429: the provider's Retry-After when it is usable, else the backoff (exercise 3).

:class:`~llm_client.policy.RetryState` asks :func:`rate_limit_delay` after
each 429 a call meets; everything else about retrying is in
``llm_client/policy.py`` and ``llm_client/retry_loop.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from llm_client.checks import check_int, check_number
from llm_client.errors import RateLimitError

__all__ = ["rate_limit_delay"]


def rate_limit_delay(
    error: RateLimitError,
    attempt: int,
    *,
    max_retry_after_s: float,
    backoff: Callable[[int], float],
) -> float:
    """Seconds to wait after a 429 on attempt ``attempt`` (counted from 0).

    The provider's ``error.retry_after`` when it is known and at most
    ``max_retry_after_s``; else ``backoff(attempt)``, the jittered backoff.
    ``backoff`` is only called when it is needed. Invalid arguments raise
    TypeError or ValueError naming the argument.
    """
    if not isinstance(error, RateLimitError):
        raise TypeError(f"error must be a RateLimitError, got {type(error).__name__}")
    check_int("attempt", attempt, minimum=0)
    check_number("max_retry_after_s", max_retry_after_s, minimum=0.0)
    if not callable(backoff):
        raise TypeError(f"backoff must be callable, got {type(backoff).__name__}")
    # BEGIN SOLUTION ex3
    if error.retry_after is not None and error.retry_after <= max_retry_after_s:
        return error.retry_after
    return backoff(attempt)
    # END SOLUTION
