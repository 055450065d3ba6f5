"""How long to wait before the next attempt: capped exponential backoff, and full jitter.

Both are small pure functions; the client combines them as
``add_jitter(backoff_delay(attempt), rng=rng)``.
"""

from __future__ import annotations

import math  # needed by ex3  # noqa: F401
import random

from llm_client._internal.checks import check_int, check_number

__all__ = ["add_jitter", "backoff_delay"]


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0) -> float:
    """Return the wait in seconds after failed attempt ``attempt`` (counted from 0).

    Formula: ``min(cap, base * 2**attempt)``. With the defaults: 0.5, 1, 2, 4, 8, 8, ...

    Overflow-safe: neither ``base * 2**attempt`` nor ``cap / base`` is formed as
    a float that could overflow, so ``attempt=10**6`` simply returns ``cap``, even
    with ``base=1e-300, cap=1e308``.

    Raises ValueError when ``attempt`` < 0 or ``base``/``cap`` are negative or
    not finite; TypeError when ``attempt`` is not an int.
    """
    check_int("attempt", attempt, minimum=0)
    base = check_number("base", base, minimum=0.0)
    cap = check_number("cap", cap, minimum=0.0)
    # TODO(ex3): write backoff_delay; notebooks/03_ex3_backoff_jitter.ipynb walks you through it.
    raise NotImplementedError("ex3: backoff_delay is not written yet (see notebooks/03_ex3_backoff_jitter.ipynb)")


def add_jitter(delay_s: float, *, rng: random.Random | None = None) -> float:
    """Return a wait drawn uniformly from ``[0, delay_s]`` seconds ("full jitter").

    Spreading waits over the whole interval stops many clients that failed
    together from retrying together. ``rng`` is used when given, so a seeded
    ``random.Random`` reproduces the same waits; otherwise the module-level
    generator is used.

    Raises ValueError when ``delay_s`` is negative, NaN or infinite.
    """
    delay_s = check_number("delay_s", delay_s, minimum=0.0)
    if rng is not None and not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    # TODO(ex3): write add_jitter; notebooks/03_ex3_backoff_jitter.ipynb walks you through it.
    raise NotImplementedError("ex3: add_jitter is not written yet (see notebooks/03_ex3_backoff_jitter.ipynb)")
