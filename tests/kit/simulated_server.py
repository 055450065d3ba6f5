"""A rate-limited provider simulated on a fake clock, and a batch driven against it, for the adaptive limiter's tests.

Nothing waits for real: :class:`Simulation` keeps its own clock (seconds) and
a queue of events, and the limiter under test reads that clock. The server
keeps a token bucket like a provider's (``rate_per_s``, ``burst``; optionally a
tokens-per-minute bucket too) and answers with OpenAI's or Anthropic's
rate-limit headers, or with none. A 429 is answered at once; an answer after
``latency_s``. Each request is tried at most ``attempts`` times, waiting what
``Retry-After`` asks, or a jittered backoff when there is none.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_client import AdaptiveLimiter
from llm_client._internal.adaptive import Turn

HEADERS = ("openai", "anthropic", "none")


@dataclass
class Bucket:
    """The server's bucket: ``size`` units, ``rate`` new ones per second, full at time 0."""

    rate: float
    size: float
    level: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.level = self.size

    def refill(self, now: float) -> float:
        self.level = min(self.size, self.level + (now - self.updated) * self.rate)
        self.updated = now
        return self.level


def go_duration(seconds: float) -> str:
    """Seconds as Go prints a duration, the way OpenAI's reset headers look: 20ms, 1.5s, 6m0s."""
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{seconds:.3g}s"


@dataclass
class Server:
    """A provider's limits on the simulation's clock."""

    rate_per_s: float
    burst: float
    headers: str = "openai"
    tokens_per_minute: float | None = None
    requests: Bucket = field(init=False)
    tokens: Bucket | None = field(init=False)
    rate_limited: int = 0
    answered: int = 0

    def __post_init__(self) -> None:
        self.requests = Bucket(self.rate_per_s, self.burst)
        tpm = self.tokens_per_minute
        self.tokens = None if tpm is None else Bucket(tpm / 60.0, tpm)

    def admit(self, now: float, tokens: int) -> tuple[bool, dict[str, str], float | None]:
        """(accepted, response headers, Retry-After seconds or None) for a request arriving at ``now``."""
        buckets = [(self.requests, 1.0)] + ([(self.tokens, float(tokens))] if self.tokens else [])
        short = [(b, need) for b, need in buckets if b.refill(now) < need]
        if short:
            self.rate_limited += 1
            retry_after = max((need - b.level) / b.rate for b, need in short)
            return False, {}, retry_after if self.headers != "none" else None
        for bucket, need in buckets:
            bucket.level -= need
        self.answered += 1
        return True, self.header_values(now), None

    def header_values(self, now: float) -> dict[str, str]:
        pairs = [("requests", self.requests)] + ([("tokens", self.tokens)] if self.tokens else [])
        headers: dict[str, str] = {}
        for kind, bucket in pairs:
            left, full_in = math.floor(bucket.level), (bucket.size - bucket.level) / bucket.rate
            if self.headers == "openai":
                headers[f"x-ratelimit-limit-{kind}"] = f"{bucket.size:g}"
                headers[f"x-ratelimit-remaining-{kind}"] = str(left)
                headers[f"x-ratelimit-reset-{kind}"] = go_duration(full_in)
            elif self.headers == "anthropic":
                reset = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=now + full_in)
                headers[f"anthropic-ratelimit-{kind}-limit"] = f"{bucket.size:g}"
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(left)
                headers[f"anthropic-ratelimit-{kind}-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        return headers


@dataclass
class Outcome:
    """What a simulated batch did: its wall time (simulated seconds), the 429s, the requests that failed."""

    wall_s: float
    rate_limited: int
    answered: int
    failed: int

    @property
    def share_429(self) -> float:
        return self.rate_limited / (self.rate_limited + self.answered)


class Simulation:
    """Runs ``n`` requests through ``limiter`` from ``concurrency`` workers against ``server``, on a fake clock."""

    def __init__(self, server: Server, *, seed: int = 0) -> None:
        self.server = server
        self.now = 0.0
        self.rng = random.Random(seed)
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._order), action))

    def limiter(self, **options: Any) -> AdaptiveLimiter:
        def no_sleep(seconds: float) -> None:
            raise AssertionError("the simulation waits through reserve/confirm, never by sleeping")

        return AdaptiveLimiter(clock=self.clock, sleep=no_sleep, **options)

    def run(
        self,
        limiter: AdaptiveLimiter,
        n: int,
        *,
        concurrency: int = 16,
        latency_s: float = 0.05,
        tokens: int = 0,
        attempts: int = 3,
    ) -> Outcome:
        pending = iter(range(n))
        failed = 0
        last = 0.0

        def next_request() -> None:
            if next(pending, None) is not None:
                take_turn(0)

        def take_turn(attempt: int) -> None:
            wait_for(limiter.reserve(tokens), attempt)

        def wait_for(turn: Turn, attempt: int) -> None:
            if turn.wait > 0:
                self.at(self.now + turn.wait, lambda: wait_for(limiter.confirm(turn), attempt))
            else:
                send(turn, attempt)

        def send(turn: Turn, attempt: int) -> None:
            nonlocal failed, last
            accepted, headers, retry_after = self.server.admit(self.now, tokens)
            if accepted:

                def answered() -> None:
                    nonlocal last
                    limiter.observe(turn, headers)
                    last = self.now
                    next_request()

                self.at(self.now + latency_s, answered)
                return
            limiter.observe(turn, {}, rate_limited=True, retry_after=retry_after)
            if attempt + 1 >= attempts:
                failed += 1
                last = self.now
                next_request()
                return
            pause = retry_after if retry_after is not None else self.rng.uniform(0, 0.5 * 2**attempt)
            self.at(self.now + pause, lambda: take_turn(attempt + 1))

        for _ in range(concurrency):
            self.at(self.now, next_request)
        while self._events:
            self.now, _, action = heapq.heappop(self._events)
            action()
        return Outcome(last, self.server.rate_limited, self.server.answered, failed)
