"""The retry policy: the numbers behind the retries, and the state of one call's attempts.

The retry loop itself is a few lines in each client (see
:meth:`llm_client.LLMClient.call`); it asks a :class:`RetryState` three things:

- ``attempt_timeout()``: the timeout, in seconds, for the next attempt
  (the per-attempt timeout, shortened so the attempt cannot outlive the deadline);
- ``record_success(attempt)``: log the success;
- ``after_failure(error, attempt)``: how long to sleep before the next attempt,
  or the error that ends the call. That decision is exercise 7, in
  ``llm_client/retry_loop.py``.

The rules:

1. Only an :class:`~llm_client.errors.LLMError` whose ``retryable`` is True
   is retried. Anything else is raised as it is, at once.
2. At most ``max_retries + 1`` attempts (attempts are counted from 0).
3. A 429 waits what the provider asked (``retry_after``) when that is at most
   ``max_retry_after_s``; otherwise, and for every other retryable error,
   ``add_jitter(backoff_delay(attempt))``. A 408, 409, 5xx or 529 whose
   provider asked for a wait (``Retry-After``) gets that wait instead of the
   backoff, under the same cap.
4. Never sleep after the last attempt, and never sleep past ``deadline_s``
   (counted from the start of the call, sleeps included).

This module imports no exercise: each one is loaded when a decision needs it,
so a call that meets no failure runs whatever state the exercises are in.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from llm_client.checks import check_int, check_number
from llm_client.errors import LLMError, ProviderError, RateLimitError
from llm_client.logs import log_event

__all__ = ["RetryPolicy", "RetryState"]


@dataclass(frozen=True)
class RetryPolicy:
    """The numbers behind the rules, checked at construction (all times in seconds).

    ``max_retries``: retries after the first attempt (>= 0).
    ``timeout_s``: the per-attempt timeout (> 0).
    ``deadline_s``: None, or a bound on the whole call, sleeps included (> 0).
    ``max_retry_after_s``: the longest Retry-After honoured (>= 0).
    ``backoff_base_s``, ``backoff_cap_s``: see :func:`~llm_client.backoff_delay`.
    """

    max_retries: int = 2
    timeout_s: float = 30.0
    deadline_s: float | None = None
    max_retry_after_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0

    def __post_init__(self) -> None:
        check_int("max_retries", self.max_retries, minimum=0)
        check_number("timeout_s", self.timeout_s, strictly_positive=True)
        if self.deadline_s is not None:
            check_number("deadline_s", self.deadline_s, strictly_positive=True)
        check_number("max_retry_after_s", self.max_retry_after_s, minimum=0.0)
        check_number("backoff_base_s", self.backoff_base_s, minimum=0.0)
        check_number("backoff_cap_s", self.backoff_cap_s, minimum=0.0)


class RetryState:
    """The decisions for one call, made against ``policy`` with an injected clock and rng.

    ``clock`` returns seconds (monotonic); ``rng`` feeds the jitter.
    ``request_id`` and ``model`` go into every log line.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        rng: random.Random | None,
        request_id: str,
        model: str,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._rng = rng
        self.request_id = request_id
        self.model = model
        self.started = clock()
        self._attempt_started = self.started
        self._asked_wait: float | None = None

    @property
    def attempts(self) -> range:
        """The attempt numbers this call may use: 0 .. max_retries."""
        return range(self.policy.max_retries + 1)

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self._clock() - self.started

    def attempt_timeout(self) -> float:
        """Start an attempt; return its timeout in seconds (never past the deadline)."""
        self._attempt_started = self._clock()
        timeout = self.policy.timeout_s
        if self.policy.deadline_s is not None:
            remaining = self.policy.deadline_s - self.elapsed()
            timeout = min(timeout, max(remaining, 1e-3))
        return timeout

    def latency(self) -> float:
        """Seconds since the current attempt started."""
        return self._clock() - self._attempt_started

    def log(self, level: int, event: str, attempt: int | None, **fields: object) -> None:
        """Log ``event`` for ``attempt`` with this call's ``request_id`` and ``model``, and ``fields``."""
        log_event(level, event, request_id=self.request_id, model=self.model, attempt=attempt, **fields)

    def record_success(self, attempt: int) -> None:
        """Log that ``attempt`` succeeded."""
        self.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=self.latency())

    def backoff(self, attempt: int) -> float:
        """The jittered backoff after ``attempt``, in seconds (exercise 2's backoff_delay and add_jitter).

        After a failure other than a 429 whose provider asked for a wait of at most
        ``max_retry_after_s`` (Retry-After on a 408, 409, 5xx or 529), that wait instead.
        """
        from llm_client.backoff import add_jitter, backoff_delay

        asked, self._asked_wait = self._asked_wait, None
        if asked is not None and asked <= self.policy.max_retry_after_s:
            return asked
        delay = backoff_delay(attempt, base=self.policy.backoff_base_s, cap=self.policy.backoff_cap_s)
        return add_jitter(delay, rng=self._rng)

    def rate_limit_wait(self, error: RateLimitError, attempt: int) -> float:
        """Seconds to wait after a 429 on ``attempt``: exercise 3's rate_limit_delay with this call's settings."""
        from llm_client.retry import rate_limit_delay

        return rate_limit_delay(error, attempt, max_retry_after_s=self.policy.max_retry_after_s, backoff=self.backoff)

    def after_failure(self, error: LLMError, attempt: int) -> float:
        """Return the seconds to sleep before attempt ``attempt + 1``, or raise what ends the call.

        The decision is :func:`llm_client.retry_loop.after_failure` (exercise 7).
        """
        from llm_client.retry_loop import after_failure

        asked = error.retry_after if isinstance(error, ProviderError) else None
        self._asked_wait = None if isinstance(error, RateLimitError) else asked
        return after_failure(self, error, attempt)

