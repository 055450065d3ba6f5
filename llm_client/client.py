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

import logging  # needed by ex1  # noqa: F401
import random

from llm_client._internal.calls import Call
from llm_client._internal.client_base import SyncClientBase
from llm_client._internal.policy import RetryPolicy
from llm_client.errors import DeadlineExceededError, LLMError, RetriesExhaustedError  # needed by ex1  # noqa: F401
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
    # TODO(ex1): write after_failure; notebooks/01_ex1_call_path.ipynb walks you through it.
    raise NotImplementedError("ex1: after_failure is not written yet (see notebooks/01_ex1_call_path.ipynb)")


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
        # TODO(ex1): write LLMClient._call_path; notebooks/01_ex1_call_path.ipynb walks you through it.
        raise NotImplementedError("ex1: LLMClient._call_path is not written yet (see notebooks/01_ex1_call_path.ipynb)")
