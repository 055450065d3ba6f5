"""The retry policy: the numbers behind a call's attempts, checked once (all times in seconds).

The rules they feed, which the call path (exercise 1, ``llm_client/client.py``) follows:

- only an :class:`~llm_client.errors.LLMError` whose ``retryable`` is True is retried;
- at most ``max_retries + 1`` attempts (attempts are counted from 0);
- each attempt has ``timeout_s``, cut so it cannot pass ``deadline_s``;
- never a wait after the last attempt, nor one that would pass ``deadline_s``
  (counted from the start of the call, waits included).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_client._internal.checks import check_int, check_number

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers behind the rules, checked at construction (all times in seconds).

    ``max_retries``: retries after the first attempt (>= 0).
    ``timeout_s``: the per-attempt timeout (> 0).
    ``deadline_s``: None, or a bound on the whole call, sleeps included (> 0).
    ``max_retry_after_s``: the longest Retry-After honoured (>= 0).
    ``backoff_base_s``, ``backoff_cap_s``: see :func:`~llm_client.backoff_delay`.

    The defaults ride out a server restart: six retries with full jitter on a
    0.25 s base, doubling to the 8 s cap, wait 7.9 s in all on average (15.75 s
    at most), and less than 2 s for fewer than 0.5% of calls, so a batch loses
    no request across a 2 s outage; the first retries stay quick (0.125 s, then
    0.25 s on average), so errors that clear at once (a provider's random
    overload) cost little. Two retries on a 0.5 s base wait 0.75 s in all.
    """

    max_retries: int = 6
    timeout_s: float = 30.0
    deadline_s: float | None = None
    max_retry_after_s: float = 60.0
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 8.0

    def __post_init__(self) -> None:
        check_int("max_retries", self.max_retries, minimum=0)
        check_number("timeout_s", self.timeout_s, strictly_positive=True)
        if self.deadline_s is not None:
            check_number("deadline_s", self.deadline_s, strictly_positive=True)
        check_number("max_retry_after_s", self.max_retry_after_s, minimum=0.0)
        check_number("backoff_base_s", self.backoff_base_s, minimum=0.0)
        check_number("backoff_cap_s", self.backoff_cap_s, minimum=0.0)
