"""Exercise 3 in the child: backoff_delay, and add_jitter with a generator whose draws the grader chooses."""

from __future__ import annotations

import random
from typing import Any


def backoff_delay(channel: Any, *, attempt: Any, base: Any = None, cap: Any = None) -> Any:
    from llm_client import backoff_delay as graded

    kwargs = {k: v for k, v in (("base", base), ("cap", cap)) if v is not None}
    return graded(attempt, **kwargs)


class ScriptedRandom(random.Random):
    """A random.Random whose ``random()`` returns ``draws`` in turn (then 0.5), counting each call; every other
    way of drawing (uniform, triangular, ...) goes through ``random()`` or ``getrandbits``, which is counted too."""

    def __init__(self, draws: list[float]) -> None:
        super().__init__(0)
        self.draws = list(draws)
        self.used = 0
        self.bits = 0

    def random(self) -> float:
        self.used += 1
        return self.draws.pop(0) if self.draws else 0.5

    def getrandbits(self, k: int) -> int:
        self.bits += 1
        return super().getrandbits(k)


def add_jitter(channel: Any, *, delay_s: Any, draws: list[float], given: bool = True) -> Any:
    """For each u of ``draws``: ``add_jitter(delay_s, rng=<a generator whose next draw is u>)`` (or, when not
    ``given``, with the module's own generator made to draw u). Returns ``[[wait, draws used, bit draws], ...]``."""
    from llm_client import add_jitter as graded

    seen: list[Any] = []
    for u in draws:
        rng = ScriptedRandom([u])
        if given:
            wait = graded(delay_s, rng=rng)
        else:
            inst = random._inst  # type: ignore[attr-defined]
            saved = (random.random, random.uniform, random.getrandbits)
            random.random, random.uniform, random.getrandbits = rng.random, rng.uniform, rng.getrandbits
            inst_saved = inst.random
            inst.random = rng.random
            try:
                wait = graded(delay_s)
            finally:
                random.random, random.uniform, random.getrandbits = saved
                inst.random = inst_saved
        seen.append([wait, rng.used, rng.bits])
    return seen


OPS = {"ex3.backoff_delay": backoff_delay, "ex3.add_jitter": add_jitter}
