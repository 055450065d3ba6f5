"""One call as the client runs it: its settings, its clock, its cache key, its log lines and its waits.

The call path (``LLMClient._call_path``, exercise 1) and the decision after a
failure (``after_failure``, exercise 1 too) read everything they need from a
:class:`Call`; the async client, the batch runner and the structured flow build
the same object, so the decision is written once and shared by all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from llm_client._internal.policy import RetryPolicy
from llm_client.errors import LLMError
from llm_client.logs import log_event

__all__ = ["Call", "Waits"]

#: How long to wait before the next attempt, in seconds, after ``error`` ended attempt ``attempt`` (from 0).
Waits = Callable[[LLMError, int], float]


class Call:
    """The state of one call: ``policy``, ``key`` (the cache key, or None), ``request_id`` and ``model``.

    ``clock`` returns seconds (monotonic); the call starts when the object is
    made. ``waits`` is the client's wait rule (``waits(error, attempt)``,
    seconds).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        key: str | None,
        clock: Callable[[], float],
        waits: Waits,
        request_id: str,
        model: str,
    ) -> None:
        self.policy = policy
        self.key = key
        self.request_id = request_id
        self.model = model
        self._clock = clock
        self._waits = waits
        self.started = clock()
        self._attempt_started = self.started
        self.attempts_started = 0

    def __repr__(self) -> str:
        return f"Call(request_id={self.request_id!r}, model={self.model!r}, key={self.key!r}, policy={self.policy!r})"

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return self._clock() - self.started

    def attempt_timeout(self) -> float:
        """Start an attempt; return its timeout in seconds: ``policy.timeout_s``, cut so it cannot pass the deadline."""
        self._attempt_started = self._clock()
        self.attempts_started += 1
        timeout = self.policy.timeout_s
        if self.policy.deadline_s is not None:
            remaining = self.policy.deadline_s - self.elapsed()
            timeout = min(timeout, max(remaining, 1e-3))
        return timeout

    def latency(self) -> float:
        """Seconds since the current attempt started (since :meth:`attempt_timeout` was last asked)."""
        return self._clock() - self._attempt_started

    def wait(self, error: LLMError, attempt: int) -> float:
        """Seconds to wait before the attempt after ``attempt``, which ``error`` ended: the client's wait rule."""
        return self._waits(error, attempt)

    def log(self, level: int, event: str, attempt: int | None, **fields: object) -> None:
        """Log ``event`` at ``level`` for ``attempt`` (None: not about one attempt) with this call's
        ``request_id`` and ``model``, and ``fields``.

        Logged while a provider error is being handled (in the ``except`` block that caught it), the
        line also carries ``provider_request_id``, the provider's id of that request, when it gave one:
        the first thing its support desk asks for.
        """
        handled = sys.exc_info()[1]
        provider_request_id = getattr(handled, "request_id", None) if isinstance(handled, LLMError) else None
        if isinstance(provider_request_id, str) and "provider_request_id" not in fields:
            fields["provider_request_id"] = provider_request_id
        log_event(level, event, request_id=self.request_id, model=self.model, attempt=attempt, **fields)


