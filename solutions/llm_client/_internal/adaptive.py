"""A limiter that finds the provider's limit by itself: from its rate-limit headers, and from its 429s.

:class:`AdaptiveLimiter` paces attempts like :class:`~llm_client._internal.rate_limiter.RateLimiter`
(one schedule behind a lock, shared by threads and tasks, with an injectable
clock and sleep), but nobody gives it a rate. It learns one, and keeps it as
a GCRA schedule (:mod:`llm_client._internal.gcra`): one time per allowance,
so it needs nothing from exercise 7 and works whether or not it is solved.

- **From the headers** of each answer (see :mod:`llm_client._internal.rate_headers`):
  the provider's own bucket, its size (``limit``) and refill rate, for
  requests and for tokens. The limiter keeps a copy of that bucket and, on
  every answer, lines the copy up with what the server said was left, minus
  what was sent since. It then sends as fast as the provider allows, burst
  included, and no faster; it only keeps back what the provider refills in
  0.05 s, so that requests whose waiters woke late do not find it empty.
- **From 429s**, when the answers carry no such headers: the rate drops to
  ``decrease`` times what it was (the first 429 measures what was being sent
  in the last second), and every answer then adds ``increase_per_s / rate``,
  so the rate climbs by about ``increase_per_s`` requests per second each
  second until the next 429. One drop per 429 that was sent after the last
  drop: the 429s of requests already under way when the rate dropped say
  nothing new.

Before its first signal it does not hold anything back. Every 429 also
empties the copy of the bucket and honours ``Retry-After``. When a signal
shows the schedule was too fast, the turns already handed out but not yet
used are taken back: each waiter, on waking, finds its turn withdrawn and
queues again under the new pace.

Two kinds of 429 are told apart (the caller says which; see
:func:`~llm_client._internal.rate_limiter.is_overload`):

- **A rate limit** is the truth over the headers' allowance. A 429 that comes
  while the stated allowance is not spent (the headers of that 429, or the
  last answer's ``remaining`` carried forward, leave more than a few requests
  and the tokens this one needs) shows that the server enforces a smaller
  bucket than it states: a *quantized* limit. OpenAI states the per-minute
  allowance in its headers, and both OpenAI and Anthropic document that a
  per-minute limit may be enforced over shorter intervals (3000 a minute as
  50 a second). Until a 429 says so, the stated burst is used, but the part
  of it beyond one second's worth goes at no more than twice the rate, so
  that few requests are under way when a shorter interval's bucket runs out
  (a batch of more than twice the burst ends as soon as it would have). The
  limiter then keeps the stated refill rate but caps its
  burst (the *ceiling*) at one second's worth of it, and halves that ceiling
  at each such 429 sent after it was set (to one at least); from then on the
  headers may lower its copy of the bucket (they still say when the stated
  allowance runs low) but never raise it, since their ``remaining`` is not the
  enforced bucket's.
- **An overload** (a 529, ``overloaded_error``, a 429 about capacity, a 429
  whose headers say the allowance is not spent) is the provider's trouble, not
  the caller's pace: it is counted in ``overloaded``, its headers are learned
  from as an answer's, and the pace is left as it was: no drop, no pause for
  its ``Retry-After``. Only the failed request's own retry waits (the client's
  backoff, or the Retry-After it was asked for), so an overload slows retries
  without collapsing the batch's rate.

Times are in seconds, rates per second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from llm_client._internal.checks import check_int, check_number
from llm_client._internal.gcra import Gcra
from llm_client._internal.rate_headers import Allowance, RateLimits, parse_rate_limits

__all__ = ["AdaptiveLimiter", "Turn"]

_MIN_RATE_PER_S = 0.01
_JITTER_S = 0.05  # how late a waiter may wake (a busy machine, a busy event loop) without causing a 429
_ROUNDED = 0.5  # a provider's "remaining" is a whole number rounded down: half a unit low on average
_WINDOW_S = 1.0  # how far back the first 429 looks to measure the rate being sent
_MEMORY_S = 120.0  # how long sent turns are remembered, to count what went after an answer's request
_QUANTUM_S = 1.0  # a quantized limit's first ceiling: one second's worth (OpenAI: 60,000 a minute as 1,000 a second)
_BURST_RATE = 2.0  # a stated burst beyond one second's worth goes at no more than this many times the rate


@dataclass(frozen=True)
class Turn:
    """One attempt's turn: its place in line (``seq``), the schedule it belongs to (``epoch``),
    the clock time it may be sent (``at``), the tokens it counts, and ``wait``: the seconds
    to wait for it (from :meth:`AdaptiveLimiter.reserve`) or waited (from ``acquire``)."""

    seq: int
    epoch: int
    at: float
    tokens: int
    wait: float


class AdaptiveLimiter:
    """Paces requests at the provider's limit, learned from its rate-limit headers and its 429s.

    - ``decrease``: the factor a 429 multiplies the rate by (0 < decrease < 1;
      0.7 by default), when the provider sends no rate-limit headers.
    - ``increase_per_s``: how many requests per second the rate gains each
      second without a 429 (> 0; 2.0 by default).
    - ``clock``, ``sleep``, ``async_sleep``: injected so tests never wait.

    Use one limiter for everything that shares an API key; the batch runners
    make one per batch when given no limiter. The learned state is in
    :attr:`requests_per_s`, :attr:`burst` and :attr:`tokens_per_minute`
    (None until learned). Like :class:`~llm_client.limiter.RateLimiter`,
    :meth:`acquire` and :meth:`aacquire` wait for a turn; each returns the
    :class:`Turn`, which :meth:`observe` takes back with the answer's headers.
    ``rate_limited`` counts the rate-limit 429s it was told of, ``overloaded``
    the overloads; :attr:`quantized` says whether 429s showed that the server
    enforces a smaller burst than its headers state.
    """

    def __init__(
        self,
        *,
        decrease: float = 0.7,
        increase_per_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.decrease = check_number("decrease", decrease, strictly_positive=True, maximum=0.99)
        self.increase_per_s = check_number("increase_per_s", increase_per_s, strictly_positive=True)
        for name, value in (("clock", clock), ("sleep", sleep), ("async_sleep", async_sleep)):
            if not callable(value):
                raise TypeError(f"{name} must be callable, got {type(value).__name__}")
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._requests: Gcra | None = None  # the copy of the provider's request allowance
        self._tokens: Gcra | None = None  # and of its token allowance
        self._pace: Gcra | None = None  # how fast a stated burst beyond one second's worth may go
        self._told = False  # the request rate came from headers (not from 429s)
        self._epoch = 0
        self._seq = 0
        self._sent: deque[Turn] = deque()
        self._readings: dict[str, tuple[float, float]] = {}  # kind -> (refill rate, weight)
        self._stated: dict[str, tuple[Allowance, Turn]] = {}  # kind -> the newest stated allowance, and its turn
        self._ceiling: float | None = None  # the request burst 429s showed the server enforces (quantized)
        self._ceiling_seq = 0  # the last turn given when the ceiling was set: only a later turn's 429 lowers it
        self.rate_limited = 0
        self.overloaded = 0

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(requests_per_s={self.requests_per_s}, burst={self.burst}, "
            f"tokens_per_minute={self.tokens_per_minute})"
        )

    @property
    def requests_per_s(self) -> float | None:
        """The request rate it paces at, or None before the first signal."""
        return None if self._requests is None else self._requests.rate

    @property
    def burst(self) -> float | None:
        """How many requests it lets go at once after a quiet spell, or None before the first signal."""
        return None if self._requests is None else self._requests.capacity

    @property
    def quantized(self) -> bool:
        """True once 429s showed the server enforces a smaller burst than its headers state."""
        return self._ceiling is not None

    @property
    def tokens_per_minute(self) -> float | None:
        """The token rate learned from the headers, per minute, or None."""
        return None if self._tokens is None else self._tokens.rate * 60.0

    # -- turns ----------------------------------------------------------------------------------

    def reserve(self, tokens: int = 0) -> Turn:
        """Take the next turn for a request of ``tokens`` tokens; its ``wait`` is the seconds to wait first.

        Then call :meth:`confirm`: a turn can be withdrawn while it is waited for.
        """
        check_int("tokens", tokens, minimum=0)
        now = self._clock()
        with self._lock:
            at = now
            if self._requests is not None:
                go, self._requests = self._requests.take(now, 1.0)
                at = max(at, go)
            if self._pace is not None:
                go, self._pace = self._pace.take(now, 1.0)
                at = max(at, go)
            if self._tokens is not None and tokens:
                go, self._tokens = self._tokens.take(now, float(tokens))
                at = max(at, go)
            wait = at - now
            self._seq += 1
            turn = Turn(self._seq, self._epoch, now + wait, tokens, wait)
            self._sent.append(turn)
            while self._sent and self._sent[0].at < now - _MEMORY_S:
                self._sent.popleft()
        return turn

    def confirm(self, turn: Turn) -> Turn:
        """After waiting ``turn.wait``: the turn, with nothing left to wait, if it still stands.

        If a signal withdrew it meanwhile (the pace was too fast), a new turn
        under the new pace, whose ``wait`` is still to be waited.
        """
        if not isinstance(turn, Turn):
            raise TypeError(f"turn must be a Turn, got {type(turn).__name__}")
        with self._lock:
            stands = turn.epoch == self._epoch
        return replace(turn, wait=0.0) if stands else self.reserve(turn.tokens)

    def acquire(self, tokens: int = 0) -> Turn:
        """Block until a request of ``tokens`` tokens may be sent; return its turn (``wait``: seconds waited)."""
        turn, waited = self.reserve(tokens), 0.0
        while turn.wait > 0:
            self._sleep(turn.wait)
            waited += turn.wait
            turn = self.confirm(turn)
        return replace(turn, wait=waited)

    async def aacquire(self, tokens: int = 0) -> Turn:
        """:meth:`acquire` without blocking the event loop."""
        turn, waited = self.reserve(tokens), 0.0
        while turn.wait > 0:
            await self._async_sleep(turn.wait)
            waited += turn.wait
            turn = self.confirm(turn)
        return replace(turn, wait=waited)

    # -- learning -------------------------------------------------------------------------------

    def observe(
        self,
        turn: Turn,
        headers: Mapping[str, str],
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        overloaded: bool = False,
    ) -> None:
        """Learn from the outcome of the attempt sent on ``turn``.

        ``headers`` are the answer's response headers (any case); with
        ``rate_limited`` the attempt got a rate-limit 429, and ``retry_after``
        is the wait (seconds) it asked for, or None. With ``overloaded`` the
        attempt failed because the provider is overloaded (a 529, a 429 about
        capacity): its headers are learned from, and nothing else changes
        (``overloaded`` wins over ``rate_limited``).
        """
        if not isinstance(turn, Turn):
            raise TypeError(f"turn must be a Turn, got {type(turn).__name__}")
        limits = parse_rate_limits(headers)
        now = self._clock()
        rate_limited = rate_limited and not overloaded
        with self._lock:
            if overloaded:
                self.overloaded += 1
            if rate_limited:
                self.rate_limited += 1
                if self._told and self._unspent(turn, limits, now):
                    self._lower_ceiling(turn)
            told = limits.requests
            if told is None and rate_limited and self._told and self._requests is not None:
                told = Allowance(self._requests.capacity, 0.0, None)
            if told is not None:
                self._told = True
                if rate_limited:  # the server had nothing left for this request
                    told = Allowance(told.limit, 0.0, told.rate_per_s)
                self._requests = self._line_up("requests", self._requests, told, turn, now, lambda t: 1.0)
                self._pace_burst(now)
            elif rate_limited:
                self._back_off(turn, now)
            elif not overloaded and self._requests is not None and not self._told and turn.epoch == self._epoch:
                requests = self._requests
                rate = requests.rate + self.increase_per_s / requests.rate
                self._requests = requests.retuned(now, rate, requests.capacity)
            if limits.tokens is not None:
                self._tokens = self._line_up(
                    "tokens", self._tokens, limits.tokens, turn, now, lambda t: float(t.tokens)
                )
            if rate_limited and retry_after is not None and retry_after > 0:
                self._hold(now, now + retry_after)
            for kind, stated in (("requests", limits.requests), ("tokens", limits.tokens)):
                if stated is not None and (kind not in self._stated or self._stated[kind][1].seq < turn.seq):
                    self._stated[kind] = (stated, turn)

    # -- quantized limits -----------------------------------------------------------------------

    def _stated_left(self, kind: str, limits: RateLimits, now: float) -> float | None:
        """What the stated allowance of ``kind`` has left at ``now``, by the headers ``limits``, or None if unstated.

        The answer's own headers when it has them; else the newest reading,
        refilled at the learned rate since, less what was sent after it.
        """
        own = limits.requests if kind == "requests" else limits.tokens
        if own is not None:
            return own.remaining
        bucket = self._requests if kind == "requests" else self._tokens
        if kind not in self._stated or bucket is None:
            return None
        stated, read = self._stated[kind]
        refilled = min(stated.limit, stated.remaining + _ROUNDED + max(0.0, now - read.at) * bucket.rate)
        amount: Callable[[Turn], float] = (lambda t: 1.0) if kind == "requests" else (lambda t: float(t.tokens))
        return refilled - self._sent_after(read, now, amount)

    def _unspent(self, turn: Turn, limits: RateLimits, now: float) -> bool:
        """Whether the stated allowances had more than a few requests left, and the tokens ``turn`` needs, at its 429.

        If so, the server enforces a smaller bucket than it states. A margin
        covers the rounding of ``remaining``, answers that overtake each other
        and the units kept back against late wake-ups.
        """
        stated_any = False
        for kind, need in (("requests", 1.0), ("tokens", float(turn.tokens))):
            left = self._stated_left(kind, limits, now)
            bucket = self._requests if kind == "requests" else self._tokens
            if left is None or bucket is None:
                continue
            stated_any = True
            margin = max(2.0, 0.02 * bucket.capacity) + bucket.rate * _JITTER_S
            if left < need + margin:
                return False  # this allowance was spent: the 429 is the one the headers foretold
        return stated_any

    def _pace_burst(self, now: float) -> None:
        """Let a stated burst beyond one second's worth go at no more than ``_BURST_RATE`` times the rate.

        A second allowance, of one second's worth refilled at twice the rate:
        it never binds at the stated rate, nor when the stated burst is no more
        than one second's worth (or capped by a ceiling).
        """
        requests = self._requests
        if requests is None or requests.capacity <= max(1.0, requests.rate * _QUANTUM_S):
            self._pace = None
            return
        rate, quantum = requests.rate * _BURST_RATE, max(1.0, requests.rate * _QUANTUM_S)
        self._pace = Gcra.full(rate, quantum, now) if self._pace is None else self._pace.retuned(now, rate, quantum)

    def _lower_ceiling(self, turn: Turn) -> None:
        """The server enforces a smaller burst than its headers state: cap it (once per turn given since)."""
        requests = self._requests
        if requests is None:
            return
        if self._ceiling is None:
            quantum = max(1.0, requests.rate * _QUANTUM_S)
            ceiling = quantum if quantum < requests.capacity else requests.capacity / 2
        elif turn.seq > self._ceiling_seq:
            ceiling = self._ceiling / 2
        else:
            return  # sent before the ceiling was set: it says nothing new
        self._ceiling, self._ceiling_seq = max(1.0, ceiling), self._seq

    def _after(self, seq: int) -> list[Turn]:
        """The turns given after place ``seq`` in line (newest first; turns are kept in the order given)."""
        later = []
        for t in reversed(self._sent):
            if t.seq <= seq:
                break
            later.append(t)
        return later

    def _pending(self, now: float) -> list[Turn]:
        """The turns given for later than ``now`` (a turn given later is never due earlier, but for rate changes)."""
        pending = []
        for t in reversed(self._sent):
            if t.at <= now:
                break
            pending.append(t)
        return pending

    def _sent_after(self, turn: Turn, now: float, amount: Callable[[Turn], float]) -> float:
        """What was sent after ``turn`` (by place in line) up to ``now``."""
        return sum(amount(t) for t in self._after(turn.seq) if t.at <= now)

    def _withdraw_pending(self, now: float) -> None:
        """Take back every turn handed out for later than ``now``: its waiter will queue again."""
        pending = self._pending(now)
        if self._requests is not None:
            self._requests = self._requests.give_back(float(len(pending)))
        if self._tokens is not None:
            self._tokens = self._tokens.give_back(float(sum(t.tokens for t in pending)))
        if self._pace is not None:
            self._pace = self._pace.give_back(float(len(pending)))
        self._epoch += 1
        for _ in pending:
            self._sent.pop()

    def _smoothed(self, kind: str, told: Allowance, bucket: Gcra | None) -> float:
        """The refill rate, each reading weighted by how much of the bucket was used when it was read.

        A reading taken near a full bucket rests on a rounded ``remaining`` of
        a few units and can be far off; one taken after a burst is close.
        Before the first reading: the rate paced at so far, or what the reset
        time says of the last unit used, or else the limit taken as per minute.
        """
        if told.rate_per_s is None:
            if kind in self._readings:
                return self._readings[kind][0]
            if bucket is not None:
                return bucket.rate
            used = told.limit - told.remaining
            if told.reset_s and used > 0:
                return used / told.reset_s
            return told.limit / 60.0
        rate, weight = self._readings.get(kind, (told.rate_per_s, 0.0))
        used = told.limit - told.remaining
        weight *= 0.9
        if weight + used > 0:  # a first reading of a full bucket (Anthropic's, at the start) weighs nothing
            rate = (rate * weight + told.rate_per_s * used) / (weight + used)
        self._readings[kind] = (rate, weight + used)
        return rate

    def _line_up(
        self,
        kind: str,
        bucket: Gcra | None,
        told: Allowance,
        turn: Turn,
        now: float,
        amount: Callable[[Turn], float],
    ) -> Gcra:
        """``bucket`` made the server's bucket as ``told`` by the answer to ``turn``, carried forward to ``now``.

        The caller stores what this returns as the allowance of ``kind``; a
        withdrawal here also gives back what pending turns took of the other.
        """
        rate = self._smoothed(kind, told, bucket)
        # Under a quantized limit the enforced burst is the ceiling, and what the headers say is left
        # (of the stated allowance) can only show that less is left, never more.
        ceiling = self._ceiling if kind == "requests" else None
        capacity = told.limit if ceiling is None else min(told.limit, ceiling)
        elapsed = max(0.0, now - turn.at)
        server = min(capacity, told.remaining + _ROUNDED + elapsed * rate)
        # Keep back what the rate brings in JITTER_S: turns that bunch up after a late wake-up
        # then find the server's bucket not quite empty, instead of getting a 429.
        spare = min(rate * _JITTER_S, 0.25 * capacity)
        sent_level = server - spare - self._sent_after(turn, now, amount)
        if bucket is None:
            return Gcra.full(rate, capacity, now).with_level(now, sent_level)
        bucket = bucket.retuned(now, rate, capacity)
        if turn.epoch != self._epoch:
            return bucket  # sent under a schedule already withdrawn: what it says is out of date
        pending = sum(amount(t) for t in self._pending(now))
        tolerance = min(
            max(2.0, 0.02 * told.limit), 0.25 * capacity
        )  # rounding, and turns counted whole against a steady refill
        level = bucket.level(now)
        if sent_level < level + pending - tolerance:
            self._withdraw_pending(now)  # gives back to the stored allowances; this one is set just below
            return bucket.with_level(now, sent_level)
        if sent_level > level + pending + tolerance and ceiling is None:
            return bucket.with_level(now, sent_level - pending)
        return bucket

    def _back_off(self, turn: Turn, now: float) -> None:
        """A 429 with no headers: drop the rate (once per schedule), empty the bucket, withdraw pending turns."""
        if turn.epoch != self._epoch:
            return
        if self._requests is None:
            recent = [t.at for t in self._sent if now - _WINDOW_S < t.at <= now]
            span = now - min(recent) if len(recent) > 1 else _WINDOW_S
            rate = len(recent) / min(max(span, 1e-3), _WINDOW_S)
            self._requests = Gcra.full(max(_MIN_RATE_PER_S, rate), 1.0, now)
        self._withdraw_pending(now)
        requests = self._requests
        rate = max(_MIN_RATE_PER_S, requests.rate * self.decrease)
        self._requests = requests.retuned(now, rate, 1.0).with_level(now, 0.0)

    def _hold(self, now: float, until: float) -> None:
        """No request turn before ``until`` (clock seconds): the provider asked to wait that long."""
        if self._requests is not None:
            self._requests = self._requests.paused(now, until)
