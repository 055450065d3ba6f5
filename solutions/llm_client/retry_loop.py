"""The retry loop's decision (exercise 7): after a failed attempt, retry or give up, and how long to wait.

Each client runs the loop (see :meth:`llm_client.LLMClient.call`)::

    for attempt in state.attempts:
        try:
            return provider.complete(req, timeout_s=state.attempt_timeout())
        except LLMError as error:
            sleep(after_failure(state, error, attempt))

and :func:`after_failure` is everything that happens between two attempts.
``state`` is the call's :class:`~llm_client.policy.RetryState`: its
``policy`` (``max_retries``, ``deadline_s``), the time so far
(``elapsed()``, ``latency()``), the waits (``backoff(attempt)``,
``rate_limit_wait(error, attempt)``) and ``log(level, event, attempt, **fields)``.
"""

from __future__ import annotations

import logging

from llm_client.errors import DeadlineExceededError, LLMError, RateLimitError, RetriesExhaustedError
from llm_client.policy import RetryState

__all__ = ["after_failure"]


def after_failure(state: RetryState, error: LLMError, attempt: int) -> float:
    """Return the seconds to sleep after ``error`` ended attempt ``attempt`` (counted from 0), or raise.

    - Log ``llm.attempt_failed`` (WARNING) with ``latency_s`` and ``error_type``
      (the error's class name), whatever happens next.
    - An error that is not ``retryable`` is raised as it is.
    - After the last attempt (``attempt == state.policy.max_retries``),
      RetriesExhaustedError is raised, with ``attempts`` (how many were made)
      and ``last_error``, chained to ``error``.
    - The wait is ``state.rate_limit_wait(error, attempt)`` for a
      RateLimitError, else ``state.backoff(attempt)``.
    - When ``state.elapsed()`` plus the wait would pass
      ``state.policy.deadline_s`` (None: no deadline), DeadlineExceededError is
      raised instead, with the same fields, chained to ``error``.
    - Each way of giving up logs ``llm.gave_up`` (ERROR) with ``error_type``
      and ``reason``: ``not_retryable``, ``attempts_exhausted`` or ``deadline``.
      A retry logs ``llm.retry_scheduled`` (INFO) with ``error_type`` and ``sleep_s``.
    """
    # BEGIN SOLUTION ex7
    error_type = type(error).__name__
    state.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=state.latency(), error_type=error_type)
    if not error.retryable:
        state.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
        raise error
    attempts_made = attempt + 1
    if attempt >= state.policy.max_retries:
        state.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
        raise RetriesExhaustedError(
            f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
            attempts=attempts_made,
            last_error=error,
        ) from error
    if isinstance(error, RateLimitError):
        sleep_s = state.rate_limit_wait(error, attempt)
    else:
        sleep_s = state.backoff(attempt)
    deadline = state.policy.deadline_s
    if deadline is not None and state.elapsed() + sleep_s > deadline:
        state.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
        raise DeadlineExceededError(
            f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
            f"deadline_s={deadline}; last error: {error_type}: {error}",
            attempts=attempts_made,
            last_error=error,
        ) from error
    state.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
    return sleep_s
    # END SOLUTION
