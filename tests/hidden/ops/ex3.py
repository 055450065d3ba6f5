"""Exercise 3 in the child: backoff_delay and add_jitter."""

from __future__ import annotations

import random
from typing import Any


def backoff_delay(channel: Any, *, attempt: Any, base: Any = None, cap: Any = None) -> Any:
    from llm_client import backoff_delay as graded

    kwargs = {k: v for k, v in (("base", base), ("cap", cap)) if v is not None}
    return graded(attempt, **kwargs)


def add_jitter(channel: Any, *, delay_s: Any, seed: int | None) -> Any:
    """``add_jitter(delay_s, rng=random.Random(seed))``; with ``seed`` None, no rng (the random module's,
    seeded here so both children draw alike). Returns the wait and the rng's next draw (how much it used)."""
    from llm_client import add_jitter as graded

    if seed is None:
        random.seed(0)
        wait = graded(delay_s)
        return [wait, random.random()]
    rng = random.Random(seed)
    wait = graded(delay_s, rng=rng)
    return [wait, rng.random()]


OPS = {"ex3.backoff_delay": backoff_delay, "ex3.add_jitter": add_jitter}
