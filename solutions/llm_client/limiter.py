"""Client-side rate limiting: stay under a provider's limits instead of finding them through 429s.

A token bucket holds at most ``capacity`` tokens and gains ``rate`` tokens
per second. Each request takes one token (or, for a tokens-per-minute limit,
as many tokens as it may use). The bucket here lends: :meth:`TokenBucket.take`
always subtracts, and returns how long the caller must wait before it may use
what it took. Callers that arrive together therefore queue up in arrival
order, each told its own wait, and nobody polls.

``RateLimiter`` (in ``llm_client/_internal/rate_limiter.py``) puts one or two
of these buckets behind a lock, for threads and for asyncio, and paces every
attempt of a provider with them. Times are in seconds.
"""

from __future__ import annotations

from llm_client._internal.checks import check_number

__all__ = ["TokenBucket"]


class TokenBucket:
    """A bucket of at most ``capacity`` tokens, refilled at ``rate`` tokens per second.

    ``tokens`` is what it holds as of time ``updated`` (seconds, on the
    caller's clock); it is negative while tokens are lent to callers that are
    still waiting. The bucket starts full at time ``start``.
    """

    def __init__(self, rate: float, capacity: float, *, start: float = 0.0) -> None:
        self.rate = check_number("rate", rate, strictly_positive=True)
        self.capacity = check_number("capacity", capacity, strictly_positive=True)
        self.tokens = self.capacity
        self.updated = check_number("start", start)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, capacity={self.capacity}, tokens={self.tokens:.3f})"

    def take(self, now: float, amount: float = 1.0) -> float:
        """Take ``amount`` tokens at time ``now``; return the seconds to wait before using them.

        The wait is 0.0 while the bucket is not below zero, else the time the
        refill needs to bring it back to zero. At ``now`` the bucket holds what
        it held at ``updated`` plus ``rate`` tokens for every second since, never
        more than ``capacity``; afterwards ``updated`` is ``now`` and ``tokens``
        is that balance less ``amount``. Taking always succeeds, even below
        zero: the bucket lends to a caller that will wait, so the next caller
        waits behind it. A ``now`` earlier than ``updated`` adds nothing and
        leaves ``updated`` as it is (a clock never runs backwards here).

        On ``TokenBucket(rate=10, capacity=1)``, full at 0, one call after the other::

            take(0.0), four times  -> 0.0, 0.1, 0.2, 0.3   tokens -3.0
            take(0.5)              -> 0.0 (-3.0 + 5.0, capped at 1.0, less 1)
            take(0.5)              -> 0.1                  tokens -1.0
            take(0.4)              -> 0.2 (an earlier clock adds nothing)

        ``amount`` must be between 0 and ``capacity``.
        """
        now = check_number("now", now)
        amount = check_number("amount", amount, minimum=0.0, maximum=self.capacity)
        # BEGIN SOLUTION ex7
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        # END SOLUTION
