"""Fake time for the client tests: a clock that moves only when someone sleeps on it.

Shared by the sync client tests and the sync/async behaviour cases, so no test waits for real.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from llm_client import LLMError, LLMRequest, backoff_delay


class FakeTime:
    """A monotonic clock (seconds) with a sync and an async sleep that only advance it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def elapsed(self) -> float:
        return self.now - self.start


def jittered(attempts: range, *, seed: int, base: float = 0.5, cap: float = 8.0) -> list[float]:
    """The full-jitter waits a client seeded with ``seed`` draws after each of ``attempts``."""
    rng = random.Random(seed)
    return [rng.uniform(0.0, backoff_delay(a, base=base, cap=cap)) for a in attempts]


def taking(seconds: float, fake_time: FakeTime, outcome: LLMError | str) -> Callable[[LLMRequest], str]:
    """A scripted FakeProvider reply that takes ``seconds`` of fake time, then fails or answers."""

    def reply(req: LLMRequest) -> str:
        fake_time.now += seconds
        if isinstance(outcome, LLMError):
            raise outcome
        return outcome

    return reply
