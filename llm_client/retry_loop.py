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

import logging  # needed by ex7  # noqa: F401

from llm_client.errors import DeadlineExceededError, LLMError, RateLimitError, RetriesExhaustedError  # noqa: F401
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
    # TODO(ex7): write after_failure; notebooks/05_ex7_retry_loop.ipynb walks you through it.
    raise NotImplementedError("ex7: after_failure is not written yet (see notebooks/05_ex7_retry_loop.ipynb)")
