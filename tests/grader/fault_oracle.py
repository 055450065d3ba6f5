"""The retry rules as an oracle: what one call must do, given what each attempt meets.

Written from the documented rules, not from the client's code: rules 1, 2 and 4
are the call path's (``LLMClient._call_path`` and ``after_failure`` in
``llm_client/client.py``, exercise 1); rule 3 is ``default_wait``'s (exercises 3
and 4), which the grader of exercise 1 gives the client as its ``waits`` setting
with a backoff of its own, and the kit's fault tests leave to the client. Shared
by both:

1. An answer ends the call. An error that is not retryable ends it at once.
2. At most ``max_retries + 1`` attempts (attempts are counted from 0); after
   the last one a retryable error ends the call ("attempts_exhausted").
3. A 429 waits its ``retry_after`` when that is known and at most
   ``max_retry_after_s``; every other retryable error, and any other 429,
   waits the backoff of its attempt.
4. A wait that would end past ``deadline_s`` (counted from the start of the
   call, attempts and waits included) ends the call instead ("deadline").

:func:`fault_sequence` draws sequences of errors from a fixed seed, so every
grading run replays the same ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llm_client.errors import (
    AuthenticationError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)


@dataclass(frozen=True)
class Step:
    """What one attempt meets, as the retry loop sees it, after ``cost_s`` seconds.

    ``text`` for an answer; otherwise an error that is ``retryable`` or not,
    ``rate_limited`` (a 429) with the ``retry_after`` it carries (seconds or None).
    """

    text: str | None = None
    retryable: bool = False
    rate_limited: bool = False
    retry_after: float | None = None
    cost_s: float = 0.0


@dataclass(frozen=True)
class Settings:
    """The client settings the oracle needs (seconds)."""

    max_retries: int = 2
    timeout_s: float = 30.0
    deadline_s: float | None = None
    max_retry_after_s: float = 60.0


@dataclass
class Prediction:
    """What must happen: how many attempts, each wait, each attempt's timeout, and how the call ends.

    ``text`` is the answer, or None when the call ends in an error; then
    ``gave_up`` says why: ``not_retryable``, ``attempts_exhausted`` or ``deadline``.
    """

    attempts: int
    waits: list[float] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    text: str | None = None
    gave_up: str | None = None


def predict(
    steps: Sequence[Step],
    settings: Settings,
    *,
    backoff: Callable[[int], float],
    filler: Step,
) -> Prediction:
    """The outcome the rules require when attempt ``n`` meets ``steps[n]`` (``filler`` past the end).

    ``backoff(attempt)`` is the wait after a failed ``attempt``; it is called
    only when the rules need it, once per wait.
    """
    elapsed = 0.0
    done = Prediction(attempts=0)
    for attempt in range(settings.max_retries + 1):
        step = steps[attempt] if attempt < len(steps) else filler
        done.attempts = attempt + 1
        timeout = settings.timeout_s
        if settings.deadline_s is not None:
            timeout = min(timeout, max(settings.deadline_s - elapsed, 1e-3))
        done.timeouts.append(timeout)
        elapsed += step.cost_s
        if step.text is not None:
            done.text = step.text
            return done
        if not step.retryable:
            done.gave_up = "not_retryable"
            return done
        if attempt == settings.max_retries:
            done.gave_up = "attempts_exhausted"
            return done
        if step.rate_limited and step.retry_after is not None and step.retry_after <= settings.max_retry_after_s:
            wait = step.retry_after
        else:
            wait = backoff(attempt)
        if settings.deadline_s is not None and elapsed + wait > settings.deadline_s:
            done.gave_up = "deadline"
            return done
        done.waits.append(wait)
        elapsed += wait
    raise AssertionError("unreachable: the last attempt always ends the call")


def step_of(reply: str | LLMError, cost_s: float = 0.0) -> Step:
    """The Step of a scripted reply: an answer, or the error a provider raised."""
    if isinstance(reply, str):
        return Step(text=reply, cost_s=cost_s)
    if isinstance(reply, RateLimitError):
        return Step(retryable=True, rate_limited=True, retry_after=reply.retry_after, cost_s=cost_s)
    return Step(retryable=reply.retryable, cost_s=cost_s)


def _error(rng: random.Random) -> LLMError:
    """One provider error of any kind the loop can meet, drawn from ``rng``."""
    kind = rng.choice(["server", "timeout", "connection", "malformed", "rate_limit", "rate_limit", "fatal", "auth"])
    if kind == "server":
        return ServerError(f"HTTP {rng.choice([500, 502, 503, 529])}", status_code=503)
    if kind == "timeout":
        return LLMTimeoutError("read timed out")
    if kind == "connection":
        return LLMConnectionError("connection reset")
    if kind == "malformed":
        return MalformedResponseError("truncated body", status_code=200)
    if kind == "rate_limit":
        return RateLimitError(retry_after=rng.choice([None, 0.0, 0.5, 2.0, 45.0, 90.0, 3600.0]))
    if kind == "fatal":
        return InvalidRequestError("bad request", status_code=400)
    return AuthenticationError("bad key", status_code=401)


def fault_sequence(seed: int) -> tuple[list[tuple[str | LLMError, float]], Settings]:
    """A sequence of (reply, cost_s) pairs and client settings, the same for the same ``seed``.

    About half the sequences end in an answer; the rest run out into the filler.
    """
    rng = random.Random(seed)
    replies: list[tuple[str | LLMError, float]] = [
        (_error(rng), rng.choice([0.0, 0.0, 0.25, 3.0])) for _ in range(rng.randint(0, 5))
    ]
    if rng.random() < 0.5:
        replies.append((f"answer #{seed}", rng.choice([0.0, 1.0])))
    settings = Settings(
        max_retries=rng.choice([0, 1, 2, 3, 4, 5]),
        timeout_s=rng.choice([5.0, 30.0]),
        deadline_s=rng.choice([None, None, 2.0, 10.0, 40.0]),
        max_retry_after_s=rng.choice([0.0, 10.0, 60.0]),
    )
    return replies, settings
