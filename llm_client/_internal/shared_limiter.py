"""An adaptive limiter whose allowance lives in Redis: every worker on every machine shares one.

:class:`SharedLimiter` is an :class:`~llm_client._internal.adaptive.AdaptiveLimiter`
(so it goes wherever one does: ``run_batch``/``arun_batch``'s ``limiter=``,
:class:`~llm_client._internal.rate_limiter.PacedProvider`) whose schedule is a
Redis key, ``llm_client:limiter:<name>``. Every process that opens a
SharedLimiter with the same Redis and the same name takes its turns from that
key, and what any of them learns (from rate-limit headers, from 429s) paces
all of them. Name one per organization, project and model, the unit a
provider's limit applies to: ``SharedLimiter(url, "org-1/proj-a/gpt-4o-mini")``.

What the key holds (a Redis hash, one field per figure):

- the request allowance and the token allowance, each as a GCRA schedule
  (:class:`~llm_client._internal.gcra.Gcra`: rate, capacity, the one time
  ``tat`` and an optional pause ``hold``; fields ``r_*`` and ``t_*``), on
  Redis's own clock (``TIME``), so machines whose clocks differ still share
  one schedule;
- whether the rate came from headers, the quantized ceiling, the count of
  turns and tokens ever given (``seq``, ``tsum``) and the schedule's
  ``epoch``, bumped when a signal moves the schedule: turns handed out for
  later than that moment are withdrawn, and their waiters queue again;
- ``burst_at``, when a turn was last given at once, out of a burst: until
  two round trips after it, no answer may show that more is left (see
  :meth:`SharedLimiter._line_up_shared`).

Taking a turn, the hot path, is one round trip: a Lua script
(:data:`TAKE_SCRIPT`, sent by ``EVALSHA``) reads Redis's clock, schedules
the turn as :meth:`Gcra.take` does, counts it and returns it with the state,
atomically (Redis runs one script at a time). It is the only arithmetic in
Lua, a few lines kept equal to ``Gcra.take`` (a test compares the two).
Learning reads the key and Redis's clock, computes with
:mod:`~llm_client._internal.gcra` in Python, and writes back with a second
script (:data:`COMMIT_SCRIPT`) that applies it only if no other learning was
written in between (else it reads again), counting again on the new schedule
the turns taken meanwhile, so the stream of takes never makes it start over.
No lock of our own: Redis runs one script at a time.

The learning is :class:`AdaptiveLimiter`'s, unchanged: each observe first
gives this process's learner the shared rate and burst, lets
:meth:`AdaptiveLimiter.observe` learn from the answer, then writes what it
learned (rate, burst, ceiling) to the key, and lines the shared allowance up
with the answer's ``remaining`` less the turns *any* worker was given since
(the key counts them). Two workers learning at once is last-writer-wins: both
learned from the same shared state, so they write nearly the same thing.

A limiter that has learned nothing yet starts conservatively: one request at
once, ``initial_rate`` a second (1.0 by default), so the first burst of many
workers sends one probe; its answer's headers then give every worker the real
allowance at once (the waiters check the key every few tens of milliseconds).

When Redis is down or slow (each call gives up after ``timeout_s``), the
limiter warns once (:class:`SharedLimiterWarning`, and a
``llm.limiter_fallback`` log line) and goes on as the per-process
AdaptiveLimiter it is, with what it learned so far, trying Redis again every
``retry_s`` seconds. The batch never fails because of Redis.

``aacquire`` talks to Redis from a worker thread (``asyncio.to_thread``);
``observe`` is called from the event loop by PacedProvider and makes one
bounded Redis transaction there (none when the answer changes nothing
shared: one read, then no write).

Needs Redis 5 or later (a script that reads ``TIME`` and then writes).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from llm_client._internal.adaptive import AdaptiveLimiter, Turn
from llm_client._internal.caller import warn_at_caller
from llm_client._internal.checks import check_int, check_number
from llm_client._internal.gcra import Gcra
from llm_client._internal.rate_headers import Allowance, parse_rate_limits
from llm_client._internal.redis_support import check_url, connect, redis_errors
from llm_client.logs import log_event

__all__ = ["COMMIT_SCRIPT", "TAKE_SCRIPT", "SharedLimiter", "SharedLimiterWarning", "SharedTurn"]

_PREFIX = "llm_client:limiter:"
_ROUNDED = 0.5  # as in adaptive.py: a provider's "remaining" is rounded down
_JITTER_S = 0.05  # as in adaptive.py: what the refill brings in this time is kept back
_CONFLICTS = 200  # transactions retried when other workers changed the key in between (within 4 timeouts)
_LEARNING_SLICE_S = 0.02  # how often a waiter checks the key before anything was learned
_SLICE_S = 0.1  # and after: a withdrawn turn is noticed this soon
_SETTLE_TRIPS = 2.0  # an answer shows that more is left only if its turn went this many round trips after a burst

T = TypeVar("T")

#: The hot path: take a turn (and ``ARGV[2]`` tokens) from the hash ``KEYS[1]`` on Redis's clock, as
#: :meth:`Gcra.take` does, in one atomic round trip. A missing key (or one this version cannot read) starts
#: again at ``ARGV[1]`` requests a second, one at a time; ``ARGV[3]``: the seconds the key lives on. A turn
#: given at once (out of a burst) notes the moment in ``burst_at``.
#: Returns ``{go, now, HGETALL}`` (times as strings: Redis would truncate a Lua number to an integer).
TAKE_SCRIPT = """
local key = KEYS[1]
local initial_rate, tokens, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local MAX_AHEAD = 31536000
local function num(x) return string.format('%.17g', x) end
local function readable()
  local f = redis.call('HMGET', key, 'v', 'told', 'r_rate', 'r_cap', 'r_tat', 'seq', 'tsum', 'epoch', 'changed_at',
    'rate_limited', 'overloaded')
  if f[1] ~= '1' or not f[2] then return false end
  for i = 3, #f do if not tonumber(f[i]) then return false end end
  return tonumber(f[3]) > 0 and tonumber(f[4]) > 0
end
if not readable() then
  redis.call('DEL', key)
  redis.call('HSET', key, 'v', '1', 'r_rate', num(initial_rate), 'r_cap', '1', 'r_tat', num(now), 'told', '0',
    'seq', '0', 'tsum', '0', 'epoch', '0', 'changed_at', num(now), 'rate_limited', '0', 'overloaded', '0')
end
local function take(p, amount)
  local f = redis.call('HMGET', key, p .. 'rate', p .. 'cap', p .. 'tat', p .. 'hold')
  if not f[1] then return nil end
  local rate, cap, tat = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  if not (rate and cap and tat) then return nil end
  local start = now
  local hold = tonumber(f[4])
  if hold then start = math.max(now, hold) end
  amount = math.min(math.max(amount, 0), cap)
  local at = math.max(start, tat - math.min((cap - amount) / rate, MAX_AHEAD))
  local after = math.min(math.max(tat, start) + math.min(amount / rate, MAX_AHEAD), now + MAX_AHEAD)
  redis.call('HSET', key, p .. 'tat', num(after))
  return at
end
local go = take('r_', 1)
if tokens > 0 then
  local token_go = take('t_', tokens)
  if token_go and token_go > go then go = token_go end
end
if go <= now then redis.call('HSET', key, 'burst_at', num(now)) end
redis.call('HINCRBY', key, 'seq', 1)
redis.call('HINCRBYFLOAT', key, 'tsum', tokens)
redis.call('EXPIRE', key, ttl)
return {num(go), num(now), redis.call('HGETALL', key)}
"""

#: What learning writes: the hash ``ARGV[5:]`` (field, value, ...) computed in Python from a read at turn count
#: ``ARGV[2]`` and token count ``ARGV[3]``, if no other learning was written since (its version ``lv`` is still
#: ``ARGV[1]``; else 0 is returned and the caller reads again). Turns taken since that read are not lost: they
#: are counted again on the new schedule, as the take did, and a newer ``burst_at`` is kept. ``ARGV[4]``: the
#: seconds the key lives on.
COMMIT_SCRIPT = """
local key = KEYS[1]
local seq, tsum, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cur = redis.call('HMGET', key, 'lv', 'seq', 'tsum', 'burst_at')
if (cur[1] or '0') ~= ARGV[1] then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local MAX_AHEAD = 31536000
local function num(x) return string.format('%.17g', x) end
redis.call('DEL', key)
redis.call('HSET', key, unpack(ARGV, 5))
local function count_again(p, amount)
  if not amount or amount <= 0 then return end
  local f = redis.call('HMGET', key, p .. 'rate', p .. 'tat', p .. 'hold')
  local rate, tat, hold = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
  if not (rate and tat) then return end
  local start = now
  if hold then start = math.max(now, hold) end
  redis.call('HSET', key, p .. 'tat', num(math.min(math.max(tat, start) + math.min(amount / rate, MAX_AHEAD),
    now + MAX_AHEAD)))
end
if tonumber(cur[2]) then
  count_again('r_', tonumber(cur[2]) - seq)
  redis.call('HSET', key, 'seq', cur[2])
end
if tonumber(cur[3]) then
  count_again('t_', tonumber(cur[3]) - tsum)
  redis.call('HSET', key, 'tsum', cur[3])
end
local burst_at = tonumber(cur[4])
if burst_at and burst_at > (tonumber(redis.call('HGET', key, 'burst_at')) or 0) then
  redis.call('HSET', key, 'burst_at', num(burst_at))
end
redis.call('HINCRBY', key, 'lv', 1)
redis.call('EXPIRE', key, ttl)
return 1
"""


class SharedLimiterWarning(RuntimeWarning):
    """Redis could not be reached: the limiter went on per process, with what it had learned."""


@dataclass(frozen=True)
class SharedTurn(Turn):
    """A turn from the shared schedule: ``redis_at`` (Redis's clock) is when it may go, ``shared_epoch``
    the schedule it belongs to, ``tsum`` the tokens given up to and with it."""

    redis_at: float = 0.0
    shared_epoch: int = 0
    tsum: float = 0.0


@dataclass
class _State:
    """What the Redis key holds."""

    requests: Gcra
    tokens: Gcra | None = None
    told: bool = False
    ceiling: float | None = None
    seq: int = 0
    tsum: float = 0.0
    epoch: int = 0
    changed_at: float = 0.0
    rate_limited: int = 0
    overloaded: int = 0
    lv: int = 0  # the learning's version: bumped at every write of what was learned
    burst_at: float = 0.0  # when a turn was last given at once, out of a burst (Redis's clock)
    extra: dict[str, Any] = field(default_factory=dict)

    def dump(self) -> dict[str, str]:
        """The hash's fields (a pause or token allowance that is None has none)."""
        fields = {
            "v": "1",
            "told": "1" if self.told else "0",
            "seq": str(self.seq),
            "tsum": repr(self.tsum),
            "epoch": str(self.epoch),
            "changed_at": repr(self.changed_at),
            "rate_limited": str(self.rate_limited),
            "overloaded": str(self.overloaded),
            "lv": str(self.lv),
            "burst_at": repr(self.burst_at),
        }
        if self.ceiling is not None:
            fields["ceiling"] = repr(float(self.ceiling))
        for prefix, g in (("r_", self.requests), ("t_", self.tokens)):
            if g is not None:
                fields |= {prefix + "rate": repr(g.rate), prefix + "cap": repr(g.capacity), prefix + "tat": repr(g.tat)}
                if g.hold is not None:
                    fields[prefix + "hold"] = repr(g.hold)
        return fields

    @classmethod
    def load(cls, raw: Mapping[Any, Any] | None) -> _State | None:
        """The state in the hash ``raw`` (HGETALL's answer), or None for no key (or one this version cannot read)."""
        if not raw:
            return None
        try:
            data = {_text(k): _text(v) for k, v in raw.items()}
            if data.get("v") != "1":
                return None

            def gcra(prefix: str) -> Gcra | None:
                if prefix + "rate" not in data:
                    return None
                hold = data.get(prefix + "hold")
                return Gcra(
                    float(data[prefix + "rate"]),
                    float(data[prefix + "cap"]),
                    float(data[prefix + "tat"]),
                    None if hold is None else float(hold),
                )

            requests = gcra("r_")
            if requests is None:
                return None
            ceiling = data.get("ceiling")
            return cls(
                requests=requests,
                tokens=gcra("t_"),
                told=data["told"] == "1",
                ceiling=None if ceiling is None else float(ceiling),
                seq=int(data["seq"]),
                tsum=float(data["tsum"]),
                epoch=int(data["epoch"]),
                changed_at=float(data["changed_at"]),
                rate_limited=int(data["rate_limited"]),
                overloaded=int(data["overloaded"]),
                lv=int(data.get("lv", "0")),
                burst_at=float(data.get("burst_at", "0")),
            )
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
            return None

    def same(self, other: _State, now: float) -> bool:
        """Whether ``other`` holds what this one does at ``now`` (schedules compared by level, not by ``tat``)."""

        def close(a: Gcra | None, b: Gcra | None) -> bool:
            if a is None or b is None:
                return a is b
            return (
                a.rate == b.rate
                and a.capacity == b.capacity
                and a.hold == b.hold
                and abs(a.level(now) - b.level(now)) <= 1e-6 * max(1.0, a.capacity)
            )

        return (
            close(self.requests, other.requests)
            and close(self.tokens, other.tokens)
            and (self.told, self.ceiling, self.seq, self.tsum, self.epoch, self.changed_at)
            == (other.told, other.ceiling, other.seq, other.tsum, other.epoch, other.changed_at)
            and (self.rate_limited, self.overloaded) == (other.rate_limited, other.overloaded)
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SharedLimiter(AdaptiveLimiter):
    """An AdaptiveLimiter whose allowance, and what it learned, live in Redis, shared by every worker.

    - ``redis_url``: ``redis://host:port/db``, ``rediss://...`` or ``unix:///path/redis.sock``.
    - ``name``: the limit this paces (one per organization, project and model);
      every limiter with the same Redis and name shares one allowance.
    - ``initial_rate``: requests per second before anything is learned (> 0; 1.0):
      with a burst of one, so many workers starting together send one probe.
    - ``timeout_s``: the most one Redis call may take (> 0; 0.25); ``retry_s``:
      how long, after Redis failed, the limiter stays per process before trying again (1.0).
    - ``state_ttl_s``: the key is forgotten after this many idle seconds (3600).
    - ``decrease``, ``increase_per_s``, ``clock``, ``sleep``, ``async_sleep``: as AdaptiveLimiter's
      (the injected clock is only used while Redis is unreachable; the shared schedule runs on Redis's).

    redis-py must be installed (the ``redis`` extra). Nothing is sent to Redis
    until the first turn.
    """

    def __init__(
        self,
        redis_url: str,
        name: str,
        *,
        initial_rate: float = 1.0,
        timeout_s: float = 0.25,
        retry_s: float = 1.0,
        state_ttl_s: float = 3600.0,
        **adaptive: Any,
    ) -> None:
        super().__init__(**adaptive)
        self.redis_url = check_url(redis_url)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if not name.strip():
            raise ValueError("name must not be empty: name one limiter per organization, project and model")
        self.name = name
        self.key = _PREFIX + name
        self.initial_rate = check_number("initial_rate", initial_rate, strictly_positive=True)
        self.timeout_s = check_number("timeout_s", timeout_s, strictly_positive=True, maximum=60.0)
        self.retry_s = check_number("retry_s", retry_s, strictly_positive=True)
        self.state_ttl_s = check_int("state_ttl_s", math.ceil(state_ttl_s), minimum=1)
        self._redis = connect(self.redis_url, self.timeout_s, "SharedLimiter")
        self._errors = redis_errors()
        from redis.exceptions import WatchError

        self._watch_error: type[BaseException] = WatchError
        self._take = self._redis.register_script(TAKE_SCRIPT)  # EVALSHA, loaded again if Redis forgot it
        self._commit = self._redis.register_script(COMMIT_SCRIPT)
        self._down_until: float | None = None  # local clock: Redis failed; per process until then
        self._shared_lock = threading.Lock()
        self._seen: _State | None = None  # the shared state as last read

    def __repr__(self) -> str:
        return (
            f"SharedLimiter({self.redis_url!r}, {self.name!r}, requests_per_s={self.requests_per_s}, "
            f"burst={self.burst})"
        )

    # -- Redis ----------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """False while Redis is unreachable and the limiter paces per process."""
        return self._down_until is None or self._clock() >= self._down_until

    def _fresh(self, now: float) -> _State:
        return _State(requests=Gcra.full(self.initial_rate, 1.0, now), changed_at=now)

    def _failed(self, action: str, exc: BaseException) -> None:
        with self._shared_lock:
            first = self._down_until is None
            self._down_until = self._clock() + self.retry_s
        if first:
            message = (
                f"SharedLimiter {self.name!r}: Redis {action} failed ({type(exc).__name__}: {exc}); "
                f"pacing per process with what was learned, trying Redis again every {self.retry_s:g} s"
            )
            warn_at_caller(message, SharedLimiterWarning)
            log_event(logging.WARNING, "llm.limiter_fallback", error_type=type(exc).__name__, reason=action)

    def _recovered(self) -> None:
        if self._down_until is not None:
            with self._shared_lock:
                self._down_until = None
            log_event(logging.INFO, "llm.limiter_shared", reason="redis reachable again")

    def _transact(self, change: Callable[[_State, float], T], *, write_unchanged: bool = True) -> T:
        """Apply ``change(state, redis_now)`` to the key atomically (it mutates the state); return its result.

        Read the key and Redis's clock (one round trip), change the state in Python, write it with
        :data:`COMMIT_SCRIPT` (one more); again, after a random moment, when another worker's learning was
        written in between. Turns taken in between do not make it start again: the script counts them.
        With ``write_unchanged=False`` nothing is written when the change leaves the state as it was.
        """
        give_up = time.monotonic() + self.timeout_s * 4
        for attempt in range(_CONFLICTS):
            if attempt:  # another worker's learning was written in between: back off a random moment, then again
                if time.monotonic() > give_up:
                    break
                time.sleep(random.uniform(0.0, 0.001 * min(attempt, 10)))
            seen, now = self._read()
            state = copy.deepcopy(seen) if seen is not None else self._fresh(now)
            result = change(state, now)
            if seen is not None and not write_unchanged and state.same(seen, now):
                return result
            lv = "0" if seen is None else str(seen.lv)
            fields = [item for pair in state.dump().items() for item in pair]
            args = [lv, state.seq, repr(state.tsum), self.state_ttl_s, *fields]
            if self._commit(keys=[self.key], args=args):
                self._seen = replace(state, lv=state.lv + 1)
                return result
        raise self._watch_error(f"the key {self.key!r} kept changing under {attempt + 1} writes")

    def _read(self) -> tuple[_State | None, float]:
        """The shared state (None if no key) and Redis's clock, in one round trip, without a transaction."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key)
            pipe.time()
            raw, (secs, micros) = pipe.execute()
        state = _State.load(raw)
        if state is not None:
            self._seen = state
        return state, secs + micros / 1e6

    def snapshot(self) -> dict[str, Any] | None:
        """The shared state as a dict (rates per second, times on Redis's clock), or None if there is none yet.

        Raises redis-py's errors when Redis cannot be reached.
        """
        state, now = self._read()
        if state is None:
            return None
        return {
            "requests_per_s": state.requests.rate,
            "burst": state.requests.capacity,
            "level": state.requests.level(now),
            "tokens_per_minute": None if state.tokens is None else state.tokens.rate * 60.0,
            "told": state.told,
            "ceiling": state.ceiling,
            "turns": state.seq,
            "epoch": state.epoch,
            "rate_limited": state.rate_limited,
            "overloaded": state.overloaded,
        }

    def reset(self) -> None:
        """Forget the shared state (delete the key): the next turn starts conservatively again."""
        self._redis.delete(self.key)

    # -- turns ----------------------------------------------------------------------------------

    def _slice(self, state: _State) -> float:
        return _SLICE_S if state.told else _LEARNING_SLICE_S

    def reserve(self, tokens: int = 0) -> Turn:
        """The next turn from the shared schedule (its ``wait`` at most a short slice: see :meth:`confirm`)."""
        check_int("tokens", tokens, minimum=0)
        if not self.shared:
            return super().reserve(tokens)
        local_now = self._clock()
        try:
            go_raw, now_raw, flat = self._take(
                keys=[self.key], args=[repr(self.initial_rate), tokens, self.state_ttl_s]
            )
            go, now = float(go_raw), float(now_raw)
            state = _State.load(dict(zip(flat[::2], flat[1::2], strict=True)))
        except self._errors as exc:
            self._failed("reserve", exc)
            return super().reserve(tokens)
        if state is None:  # cannot be: the script has just written it
            state = self._fresh(now)
        self._seen = state
        wait = max(0.0, go - now)
        turn = SharedTurn(
            state.seq,
            self._epoch,
            local_now + wait,
            tokens,
            min(wait, self._slice(state)),
            redis_at=go,
            shared_epoch=state.epoch,
            tsum=state.tsum,
        )
        self._recovered()
        with self._lock:
            self._seq = max(self._seq, turn.seq)
        return turn

    def confirm(self, turn: Turn) -> Turn:
        """After waiting ``turn.wait``: the turn with what is left to wait (0: go), or a new turn if withdrawn."""
        if not isinstance(turn, SharedTurn):
            return super().confirm(turn)
        try:
            state, now = self._read()
        except self._errors as exc:
            self._failed("confirm", exc)
            return replace(turn, wait=max(0.0, turn.at - self._clock()))
        if state is None:  # the key expired or Redis restarted empty: the turn stands
            return replace(turn, wait=0.0)
        if state.epoch != turn.shared_epoch and turn.redis_at > state.changed_at:
            return self.reserve(turn.tokens)  # withdrawn: given back when the schedule moved
        left = turn.redis_at - now
        if left <= 1e-4:  # go; a waiter that woke late sends late: the server counts it from now
            return replace(turn, wait=0.0, redis_at=max(turn.redis_at, now))
        return replace(turn, wait=min(left, self._slice(state)))

    async def aacquire(self, tokens: int = 0) -> Turn:
        """:meth:`acquire` without blocking the event loop: Redis is called from a worker thread."""
        turn, waited = await asyncio.to_thread(self.reserve, tokens), 0.0
        while turn.wait > 0:
            await self._async_sleep(turn.wait)
            waited += turn.wait
            turn = await asyncio.to_thread(self.confirm, turn)
        return replace(turn, wait=waited)

    # -- learning -------------------------------------------------------------------------------

    def _adopt(self, state: _State, headers_state_rate: bool) -> None:
        """Give this process's learner the shared rate, burst and ceiling before it learns (under ``_lock``)."""
        now = self._clock()
        if state.told or (not self._told and not headers_state_rate):
            rate, capacity = state.requests.rate, state.requests.capacity
            requests = self._requests
            self._requests = (
                Gcra.full(rate, capacity, now) if requests is None else requests.retuned(now, rate, capacity)
            )
            self._told = self._told or state.told
        if state.tokens is not None:
            rate, capacity = state.tokens.rate, state.tokens.capacity
            tokens = self._tokens
            self._tokens = Gcra.full(rate, capacity, now) if tokens is None else tokens.retuned(now, rate, capacity)
        if state.ceiling is not None and (self._ceiling is None or state.ceiling < self._ceiling):
            self._ceiling = state.ceiling

    def observe(
        self,
        turn: Turn,
        headers: Mapping[str, str],
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        overloaded: bool = False,
    ) -> None:
        """Learn from the outcome of the attempt sent on ``turn`` (as AdaptiveLimiter does), for every worker."""
        if not isinstance(turn, SharedTurn):
            super().observe(turn, headers, rate_limited=rate_limited, retry_after=retry_after, overloaded=overloaded)
            return
        limits = parse_rate_limits(headers)
        seen = self._seen
        current = seen is not None and seen.epoch == turn.shared_epoch
        with self._lock:
            if seen is not None:
                self._adopt(seen, limits.requests is not None)
            # The learner's own epoch stands for the shared one as last seen: a turn of an older schedule
            # says nothing new, there as here.
            local_turn = replace(turn, epoch=self._epoch if current else self._epoch - 1)
        super().observe(local_turn, headers, rate_limited=rate_limited, retry_after=retry_after, overloaded=overloaded)
        if not self.shared:
            return
        with self._lock:
            learned_requests = self._requests
            learned_tokens = self._tokens
            told, ceiling = self._told, self._ceiling
        rate_limited = rate_limited and not overloaded

        def learn(state: _State, now: float) -> None:
            same = state.epoch == turn.shared_epoch
            state.overloaded += overloaded
            state.rate_limited += rate_limited
            if ceiling is not None and (state.ceiling is None or ceiling < state.ceiling):
                state.ceiling = ceiling
            stated = limits.requests
            if stated is None and rate_limited and state.told:
                stated = Allowance(state.requests.capacity, 0.0, None)
            if stated is not None and learned_requests is not None and told:
                if rate_limited:
                    stated = Allowance(stated.limit, 0.0, stated.rate_per_s)
                state.requests = self._line_up_shared(
                    state,
                    state.requests,
                    learned_requests,
                    stated,
                    now,
                    turn,
                    float(state.seq - turn.seq),
                    not state.told,
                )
                state.told = True
            elif rate_limited and learned_requests is not None:
                if same:  # one drop per schedule, as AdaptiveLimiter's: pending turns queue again
                    _withdraw(state, now)
                    state.requests = state.requests.retuned(now, learned_requests.rate, 1.0).with_level(now, 0.0)
            elif not overloaded and not state.told and same and learned_requests is not None:
                state.requests = state.requests.retuned(now, learned_requests.rate, state.requests.capacity)
            if limits.tokens is not None and learned_tokens is not None:
                current_tokens = state.tokens or Gcra.full(learned_tokens.rate, learned_tokens.capacity, now)
                state.tokens = self._line_up_shared(
                    state,
                    current_tokens,
                    learned_tokens,
                    limits.tokens,
                    now,
                    turn,
                    state.tsum - turn.tsum,
                    state.tokens is None,
                )
            if rate_limited and retry_after is not None and retry_after > 0:
                state.requests = state.requests.paused(now, now + retry_after)

        try:
            self._transact(learn, write_unchanged=False)
        except self._errors as exc:
            self._failed("observe", exc)
            return
        self._recovered()

    def _line_up_shared(
        self,
        state: _State,
        bucket: Gcra,
        learned: Gcra,
        told: Allowance,
        now: float,
        turn: SharedTurn,
        given_after: float,
        first: bool,
    ) -> Gcra:
        """The shared ``bucket`` at the learned rate and burst, lined up with the server's ``told`` allowance.

        The server had ``told.remaining`` left when it counted ``turn``; since
        then it refilled, and every worker was given ``given_after`` more. When
        that differs from the shared level by more than rounding, the level is
        set to it; when more is left than it thought, the turns handed out for
        later are withdrawn (their waiters queue again) and it goes halfway
        there. A quantized limit's headers may lower it, never raise it.

        Nor may the answer to a turn that went within two of its round trips
        (from its time to go until now) of the last turn given at once, out of
        a burst (``burst_at``): the turns of a burst are given at the same
        moment to threads of many processes, which may send them after this
        one, so the server's ``remaining`` may not count them yet and reads as
        more than is left. Later turns go ``1 / rate`` apart, which the
        rounding covers.
        """
        rate, capacity = learned.rate, learned.capacity
        bucket = bucket.retuned(now, rate, capacity)
        if not first and turn.shared_epoch != state.epoch:
            return bucket  # an answer to a withdrawn schedule: out of date
        server = min(capacity, told.remaining + _ROUNDED + max(0.0, now - turn.redis_at) * rate)
        spare = min(rate * _JITTER_S, 0.25 * capacity)
        target = server - spare - given_after
        level = bucket.level(now)
        tolerance = min(max(2.0, 0.02 * told.limit), 0.25 * capacity)
        round_trip = max(0.0, now - turn.redis_at)
        settled = turn.redis_at - state.burst_at > _SETTLE_TRIPS * round_trip
        if not first:
            if abs(target - level) <= tolerance or (target > level and (state.ceiling is not None or not settled)):
                return bucket
        if target < level:
            # Less is left than the schedule thinks: later turns go later; those handed out keep theirs
            # (withdrawing them at every disagreement of a few requests among many workers costs more than it saves).
            return bucket.with_level(now, target)
        pending = max(0.0, -level)  # more is left: turns handed out for later than now are withdrawn, queued again
        _withdraw(state, now)
        if first:
            return bucket.with_level(now, target + pending)
        # Halfway: one answer may still be out of date by a few turns, and the next ones come 1 / rate apart.
        return bucket.with_level(now, pending + level + (target - level) / 2)


def _withdraw(state: _State, now: float) -> None:
    """Take back every turn handed out for later than ``now`` (a new epoch): their waiters queue again.

    In a GCRA schedule, the units handed out for later than ``now`` are what it owes: its level below zero.
    """
    state.requests = state.requests.give_back(max(0.0, -state.requests.level(now)))
    if state.tokens is not None:
        state.tokens = state.tokens.give_back(max(0.0, -state.tokens.level(now)))
    state.epoch += 1
    state.changed_at = now
