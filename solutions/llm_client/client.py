"""The client: where a request meets the cache, the attempts, the waits and the logs (exercise 1).

Contract: given an :class:`~llm_client.LLMRequest`, return the model's text or
raise an :class:`~llm_client.errors.LLMError` that says what went wrong.
Programming errors (a TypeError in your own code, say) are never retried or
wrapped.

Exercise 1 is the call path, in two parts: :meth:`LLMClient._call_path`, one
call from the cache look-up to the stored answer, and :func:`after_failure`,
the decision each failed attempt meets. The async client and the batch runner
reuse :func:`after_failure` as it is, so the decision is written once.

What you do not write here (the settings and their checks, the cache key's
scope, identical calls sharing one flight, structured output) lives in
``llm_client/_internal/``; you never need to open it.
"""

from __future__ import annotations

import logging
import random

from llm_client._internal.calls import Call
from llm_client._internal.client_base import SyncClientBase
from llm_client._internal.policy import RetryPolicy
from llm_client.errors import DeadlineExceededError, LLMError, RetriesExhaustedError
from llm_client.providers.base import LLMResponse
from llm_client.request import LLMRequest

__all__ = ["LLMClient", "after_failure", "default_wait"]


def default_wait(error: LLMError, attempt: int, *, policy: RetryPolicy, rng: random.Random | None) -> float:
    """The wait before the next attempt, in seconds, when the client is given no ``waits``.

    The provider's own wait when it sent one and it is usable (exercise 4's
    ``retry_delay``), else the jittered exponential backoff (exercise 3's
    ``backoff_delay`` and ``add_jitter``) with the policy's base and cap.
    """
    from llm_client.backoff import add_jitter, backoff_delay
    from llm_client.retry_after import retry_delay

    def backoff(n: int) -> float:
        return add_jitter(backoff_delay(n, base=policy.backoff_base_s, cap=policy.backoff_cap_s), rng=rng)

    return retry_delay(error, attempt, max_retry_after_s=policy.max_retry_after_s, backoff=backoff)


def after_failure(call: Call, error: LLMError, attempt: int) -> float:
    """Return the seconds to sleep after ``error`` ended attempt ``attempt`` (counted from 0), or raise.

    The contract:

    - Every failed attempt is logged as ``llm.attempt_failed`` (WARNING) with
      ``latency_s`` (``call.latency()``) and ``error_type`` (the error's class
      name), whatever happens next.
    - An error that is not ``retryable`` goes back to the caller as it is.
    - After the last attempt (``attempt == call.policy.max_retries``) the call
      gives up with RetriesExhaustedError, with ``attempts`` (how many were
      made) and ``last_error``, chained to ``error``.
    - Otherwise the wait is ``call.wait(error, attempt)``; when
      ``call.elapsed()`` plus that wait would pass ``call.policy.deadline_s``
      (None: no deadline), the call gives up with DeadlineExceededError
      instead, with the same fields, chained to ``error``.
    - Giving up logs ``llm.gave_up`` (ERROR) with ``error_type`` and
      ``reason``: ``not_retryable``, ``attempts_exhausted`` or ``deadline``.
      A retry logs ``llm.retry_scheduled`` (INFO) with ``error_type`` and
      ``sleep_s``. Log with ``call.log(level, event, attempt, **fields)``.

    It never sleeps: it returns the seconds, and the caller sleeps.

    Examples, with ``max_retries=2`` and a wait rule of 0.5 s: a 503 after
    attempt 0 returns 0.5; a 401 after any attempt is raised as it is; a 503
    after attempt 2 raises RetriesExhaustedError with ``attempts=3``; a 503 at
    ``call.elapsed() == 9.6`` with ``deadline_s=10`` raises DeadlineExceededError.
    """
    # BEGIN SOLUTION ex1
    error_type = type(error).__name__
    call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
    if not error.retryable:
        call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
        raise error
    attempts_made = attempt + 1
    if attempt >= call.policy.max_retries:
        call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
        raise RetriesExhaustedError(
            f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
            attempts=attempts_made,
            last_error=error,
        ) from error
    sleep_s = call.wait(error, attempt)
    deadline = call.policy.deadline_s
    if deadline is not None and call.elapsed() + sleep_s > deadline:
        call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
        raise DeadlineExceededError(
            f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
            f"deadline_s={deadline}; last error: {error_type}: {error}",
            attempts=attempts_made,
            last_error=error,
        ) from error
    call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
    return sleep_s
    # END SOLUTION


class LLMClient(SyncClientBase):
    """A reliable client around one provider.

    Arguments (times in seconds; attempts counted from 0):

    - ``provider``: anything with ``complete(req, *, timeout_s) -> LLMResponse``.
    - ``cache``: a :class:`~llm_client.caches.Cache`, or None for no caching.
    - ``max_retries``: retries after the first attempt, so at most ``max_retries + 1`` attempts.
    - ``timeout_s``: the bound on one whole attempt, handed to the provider (the HTTP providers hold
      the whole exchange to it, not only each read, as httpx's own timeouts do);
      ``deadline_s``: None, or a bound on a whole call, waits included.
    - ``waits``: None, or ``waits(error, attempt) -> seconds``, the wait before a retry
      (None: :func:`default_wait`, which needs exercises 3 and 4).
    - ``max_retry_after_s``, ``backoff_base_s``, ``backoff_cap_s``: the numbers :func:`default_wait` uses.
    - ``sleep``, ``clock``, ``rng``: injected so tests never wait (``time.sleep``,
      ``time.monotonic`` and the ``random`` module by default).
    - ``key_fn``: how a request becomes a cache key (exercise 2's ``make_cache_key``).
    - ``cache_namespace``: None, or a name added to every cache key (a prompt version, a tenant).
    - ``cache_truncated``: also cache answers that stopped at a token limit (False: never).

    Identical calls in flight at once (same request and settings, several
    threads) reach the provider once and share its answer or error. Close it
    with ``client.close()`` or use ``with LLMClient(...) as client:``.
    """

    _default_waits = staticmethod(default_wait)
    _after_failure = staticmethod(after_failure)

    def call(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> str:
        """Return the model's text for ``req`` (:meth:`call_response` has the rest of the answer).

        ``timeout_s`` and ``max_retries`` default to the client's settings;
        ``use_cache=False`` skips the cache both ways.
        """
        return self.call_response(req, timeout_s=timeout_s, max_retries=max_retries, use_cache=use_cache).text

    def _call_path(self, req: LLMRequest, call: Call) -> LLMResponse:
        """Return the answer to ``req``: from the cache, or from the first attempt that succeeds.

        The contract:

        - With a cache key (``call.key`` is not None; ``self.cache`` is then
          set), read the cache once, ``self.cache.get(call.key)``, and keep
          what it returned: a second read could miss an entry evicted in
          between. A stored text is the answer: log ``llm.cache_hit`` (INFO,
          with ``latency_s=0.0``; ``attempt`` None) and return it as
          ``LLMResponse(text, req.model)`` without asking the provider, so
          ``call_response`` reports the request's model (and ``from_cache``).
          An empty text is an answer too.
        - Otherwise make at most ``call.policy.max_retries + 1`` attempts, each
          ``self.provider.complete(req, timeout_s=call.attempt_timeout())``.
        - A failed attempt (an LLMError) goes to :func:`after_failure`, which
          returns the seconds to ``self.sleep`` before the next attempt or
          raises what ends the call. Anything but an LLMError is not caught.
        - A successful attempt is logged as ``llm.attempt_ok`` (INFO, with
          ``latency_s``: ``call.latency()``) and its response returned.
          Its text is stored under ``call.key`` first, unless the answer was cut
          at a token limit (``response.truncated``) and ``self.cache_truncated``
          is False: a cut answer is never served again by mistake.
        """
        # BEGIN SOLUTION ex1
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        # END SOLUTION
