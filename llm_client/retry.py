"""The retry policy: every decision the retry loop makes, in one place.

The loop itself is a few lines (see :meth:`llm_client.LLMClient.call`); it
asks a :class:`RetryState` three things:

- ``attempt_timeout()``: the timeout, in seconds, for the next attempt
  (the per-attempt timeout, shortened so the attempt cannot outlive the deadline);
- ``record_success(attempt)``: log the success;
- ``after_failure(error, attempt)``: how long to sleep before the next attempt,
  or the error that ends the call.

The rules:

1. Only an :class:`~llm_client.errors.LLMError` whose ``retryable`` is True
   is retried. Anything else is raised as it is, at once.
2. At most ``max_retries + 1`` attempts (attempts are counted from 0).
3. A 429 waits what the provider asked (``retry_after``) when that is at most
   ``max_retry_after_s``; otherwise, and for every other retryable error,
   ``add_jitter(backoff_delay(attempt))``.
4. Never sleep after the last attempt, and never sleep past ``deadline_s``
   (counted from the start of the call, sleeps included).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from llm_client.backoff import add_jitter, backoff_delay
from llm_client.checks import check_int, check_number
from llm_client.errors import DeadlineExceededError, LLMError, RateLimitError, RetriesExhaustedError
from llm_client.logs import log_event

__all__ = ["RetryPolicy", "RetryState", "rate_limit_delay"]


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
    # TODO(ex3): write rate_limit_delay; notebooks/04_ex3_rate_limits.ipynb walks you through it.
    raise NotImplementedError("ex3: rate_limit_delay is not written yet (see notebooks/04_ex3_rate_limits.ipynb)")


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

    def _latency(self) -> float:
        return self._clock() - self._attempt_started

    def _log(self, level: int, event: str, attempt: int | None, **fields: object) -> None:
        log_event(level, event, request_id=self.request_id, model=self.model, attempt=attempt, **fields)

    def record_success(self, attempt: int) -> None:
        """Log that ``attempt`` succeeded."""
        self._log(logging.INFO, "llm.attempt_ok", attempt, latency_s=self._latency())

    def backoff(self, attempt: int) -> float:
        """The jittered backoff after ``attempt``, in seconds."""
        delay = backoff_delay(attempt, base=self.policy.backoff_base_s, cap=self.policy.backoff_cap_s)
        return add_jitter(delay, rng=self._rng)

    def after_failure(self, error: LLMError, attempt: int) -> float:
        """Return the seconds to sleep before attempt ``attempt + 1``, or raise what ends the call.

        Non-retryable errors are re-raised as they are. When no attempt is
        left, RetriesExhaustedError is raised; when the sleep would pass the
        deadline, DeadlineExceededError; both chained to ``error``.
        """
        error_type = type(error).__name__
        self._log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=self._latency(), error_type=error_type)
        if not error.retryable:
            self._log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= self.policy.max_retries:
            self._log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        if isinstance(error, RateLimitError):
            sleep_s = rate_limit_delay(
                error, attempt, max_retry_after_s=self.policy.max_retry_after_s, backoff=self.backoff
            )
        else:
            sleep_s = self.backoff(attempt)
        deadline = self.policy.deadline_s
        if deadline is not None and self.elapsed() + sleep_s > deadline:
            self._log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        self._log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
