"""Fake time for the client tests, and clients on it: a clock that moves only when someone sleeps on it.

Shared by the kit's client, behaviour, log, retry and structured-output tests, so no test waits for real
and every client under test is made the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from llm_client import AsyncLLMClient, LLMClient, LLMError, LLMRequest, backoff_delay

#: The seed of every client's rng here, and of the jitter the tests expect from it.
SEED = 1234


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


def jittered(attempts: range, *, seed: int, base: float = 0.25, cap: float = 8.0) -> list[float]:
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


def make_client(provider: Any, fake_time: FakeTime | None = None, *, seed: int = SEED, **options: Any) -> LLMClient:
    """An LLMClient that sleeps on ``fake_time`` (a fresh FakeTime when None), its rng seeded with ``seed``."""
    fake_time = fake_time or FakeTime()
    return LLMClient(provider, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(seed), **options)


def make_async_client(
    provider: Any, fake_time: FakeTime | None = None, *, seed: int = SEED, **options: Any
) -> AsyncLLMClient:
    """make_client's AsyncLLMClient: it awaits its sleeps on ``fake_time``."""
    fake_time = fake_time or FakeTime()
    return AsyncLLMClient(
        provider, sleep=fake_time.async_sleep, clock=fake_time.clock, rng=random.Random(seed), **options
    )
