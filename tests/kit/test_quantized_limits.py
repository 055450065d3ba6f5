"""Batches against servers that do not do what their headers say: quantized limits, overloads, a restart.

Every batch runs on the simulation's clock (tests/kit/simulated_server.py), through the same pieces a
real batch uses: the AdaptiveLimiter, :func:`~llm_client._internal.rate_limiter.is_overload` telling
a rate-limit 429 from an overload as PacedProvider does, and the client's own wait after a failure
(``default_wait`` with the RetryPolicy defaults). Nothing waits for real; the times asserted are
simulated seconds. The figures are the promises:

- **Quantized limits.** A server whose headers state 3000 requests a minute (OpenAI's
  ``x-ratelimit-limit-requests: 3000``, reset when the minute's bucket is full again) while it
  enforces 50 a second with a burst of 50: 300 requests end within 1.05x of the 5.0 s minimum,
  with at most 1% of responses 429 and no failed request.
- **Overloads.** 30% of requests answered at random with a 429 about capacity: the pace learned
  from the headers is kept, and the batch ends within 1.5x of a client shaped like the official
  SDK's (no limiter, two retries, 0.5 s doubling, 0-25% jitter) with no more failures.
- **A restart.** 50 requests across a 2 s outage lose none, in the median of 20 seeded runs, with
  the default retry settings.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from simulated_server import Bucket, Outcome, Server, Simulation, go_duration

from llm_client import AdaptiveLimiter, LLMConnectionError, LLMError, RateLimitError
from llm_client._internal.adaptive import Turn
from llm_client._internal.policy import RetryPolicy
from llm_client._internal.rate_limiter import error_headers, is_overload
from llm_client.client import default_wait

pytestmark = pytest.mark.kit

RATE_LIMITED = "Rate limit reached for requests. Please try again in 20ms."
OVERLOADED = "That model is currently overloaded with other requests. You can retry your request."


def bucket_headers(dialect: str, pairs: list[tuple[str, Bucket]], now: float) -> dict[str, str]:
    """A provider's rate-limit headers for ``pairs`` of (kind, bucket), as Server.header_values writes them."""
    headers: dict[str, str] = {}
    for kind, bucket in pairs:
        left, full_in = math.floor(bucket.level), (bucket.size - bucket.level) / bucket.rate
        if dialect == "openai":
            headers[f"x-ratelimit-limit-{kind}"] = f"{bucket.size:g}"
            headers[f"x-ratelimit-remaining-{kind}"] = str(left)
            headers[f"x-ratelimit-reset-{kind}"] = go_duration(full_in)
        elif dialect == "anthropic":
            reset = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=now + full_in)
            headers[f"anthropic-ratelimit-{kind}-limit"] = f"{bucket.size:g}"
            headers[f"anthropic-ratelimit-{kind}-remaining"] = str(left)
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
    return headers


@dataclass
class FaultServer(Server):
    """A simulated provider that can state another allowance than it enforces, be overloaded, or be down.

    - ``stated_per_minute``: the headers state a bucket of that many requests refilled over a minute
      (and it is enforced too), while the ``rate_per_s``/``burst`` bucket is what refuses requests;
    - ``overload_share``: that share of requests (drawn with ``seed``) is answered with a 429 about
      capacity, which takes nothing from any bucket;
    - ``outage``: (start, end): no connection in between, and answers due then never come.
    """

    stated_per_minute: float | None = None
    overload_share: float = 0.0
    seed: int = 0
    outage: tuple[float, float] | None = None
    overloaded: int = 0
    stated: Bucket | None = field(init=False)
    draws: random.Random = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        per_minute = self.stated_per_minute
        self.stated = None if per_minute is None else Bucket(per_minute / 60.0, per_minute)
        self.draws = random.Random(self.seed)

    def header_values(self, now: float) -> dict[str, str]:
        if self.stated is None:
            return super().header_values(now)
        self.stated.refill(now)
        return bucket_headers(self.headers, [("requests", self.stated)], now)

    def down(self, now: float) -> bool:
        return self.outage is not None and self.outage[0] <= now < self.outage[1]

    def answer(self, now: float, tokens: int) -> tuple[str, dict[str, str], float | None]:
        """("ok" | "rate_limited" | "overloaded", the response's headers, Retry-After or None)."""
        if self.overload_share and self.draws.random() < self.overload_share:
            self.overloaded += 1
            return "overloaded", self.header_values(now), None
        accepted, headers, retry_after = self.admit(now, tokens)
        if not accepted:
            return "rate_limited", self.header_values(now), retry_after
        if self.stated is not None:
            self.stated.refill(now)
            self.stated.level -= 1.0
            headers = self.header_values(now)
        return "ok", headers, None


@dataclass
class FaultOutcome(Outcome):
    overloaded: int = 0
    held_back_s: float = 0.0  # the waits the limiter handed out, summed
    answered_at: list[float] = field(default_factory=list)  # when each answer came, in order


Wait = Callable[[LLMError, int, random.Random], float]


def client_wait(policy: RetryPolicy) -> Wait:
    """This kit's client: ``default_wait`` (Retry-After, else full-jitter backoff) with ``policy``'s numbers."""
    return lambda error, attempt, rng: default_wait(error, attempt, policy=policy, rng=rng)


def sdk_wait(error: LLMError, attempt: int, rng: random.Random) -> float:
    """The official openai SDK's wait: Retry-After when given, else 0.5 s doubling to 8 s, less 0-25%."""
    if isinstance(error, RateLimitError) and error.retry_after is not None and 0 < error.retry_after <= 60:
        return error.retry_after
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * rng.random())


class FaultSimulation(Simulation):
    """Simulation's event loop, with a client's failures and waits, told to the limiter as PacedProvider tells them."""

    server: FaultServer

    def batch(
        self,
        limiter: AdaptiveLimiter | None,
        n: int,
        *,
        concurrency: int = 16,
        latency_s: float = 0.05,
        tokens: int = 0,
        attempts: int | None = None,
        wait: Wait | None = None,
        headers_on_429: bool = False,
    ) -> FaultOutcome:
        """Run ``n`` requests of ``tokens`` tokens; each tries ``attempts`` times (the RetryPolicy default)
        and waits ``wait`` between.

        With ``headers_on_429`` a 429 carries its response's headers on the error (``error.headers``),
        as a provider may put them there; without, the limiter sees none.
        """
        policy = RetryPolicy()
        attempts = policy.max_retries + 1 if attempts is None else attempts
        wait = client_wait(policy) if wait is None else wait
        server = self.server
        pending = iter(range(n))
        tally = {"answered": 0, "failed": 0, "held_back_s": 0.0, "last": 0.0}
        answered_at: list[float] = []

        def next_request() -> None:
            if next(pending, None) is not None:
                take_turn(0)

        def take_turn(attempt: int) -> None:
            if limiter is None:
                send(None, attempt)
                return
            turn = limiter.reserve(tokens)
            tally["held_back_s"] += turn.wait
            wait_for(turn, attempt)

        def wait_for(turn: Turn, attempt: int) -> None:
            if turn.wait > 0 and limiter is not None:
                self.at(self.now + turn.wait, lambda: wait_for(limiter.confirm(turn), attempt))
            else:
                send(turn, attempt)

        def send(turn: Turn | None, attempt: int) -> None:
            if server.down(self.now):
                failed(attempt, LLMConnectionError("connection refused"))
                return
            kind, headers, retry_after = server.answer(self.now, tokens)
            if kind == "ok":
                done = self.now + latency_s
                if server.outage is not None and self.now < server.outage[0] < done:
                    self.at(server.outage[0], lambda: failed(attempt, LLMConnectionError("server disconnected")))
                else:
                    self.at(done, lambda: answered(turn, headers))
                return
            message = OVERLOADED if kind == "overloaded" else RATE_LIMITED
            error = RateLimitError(retry_after=retry_after, provider_message=message)
            if headers_on_429:
                error.headers = headers  # type: ignore[attr-defined]
            if limiter is not None and turn is not None:  # as PacedProvider tells it
                if is_overload(error, tokens):
                    limiter.observe(turn, error_headers(error), overloaded=True)
                else:
                    limiter.observe(turn, error_headers(error), rate_limited=True, retry_after=error.retry_after)
            failed(attempt, error)

        def answered(turn: Turn | None, headers: dict[str, str]) -> None:
            if limiter is not None and turn is not None:
                limiter.observe(turn, headers)
            tally["answered"] += 1
            tally["last"] = self.now
            answered_at.append(self.now)
            next_request()

        def failed(attempt: int, error: LLMError) -> None:
            if attempt + 1 >= attempts:
                tally["failed"] += 1
                tally["last"] = self.now
                next_request()
                return
            self.at(self.now + wait(error, attempt, self.rng), lambda: take_turn(attempt + 1))

        for _ in range(concurrency):
            self.at(self.now, next_request)
        while self._events:
            self.now, _, action = heapq.heappop(self._events)
            action()
        return FaultOutcome(
            tally["last"],
            server.rate_limited,
            int(tally["answered"]),
            int(tally["failed"]),
            server.overloaded,
            tally["held_back_s"],
            answered_at,
        )


def simulate(server: FaultServer, *, seed: int = 0, **options: Any) -> tuple[FaultOutcome, AdaptiveLimiter]:
    """A batch through a fresh AdaptiveLimiter against ``server``: its outcome, and the limiter."""
    sim = FaultSimulation(server, seed=seed)
    limiter = sim.limiter()
    return sim.batch(limiter, options.pop("n", 300), **options), limiter


# -- quantized limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("headers_on_429", [False, True], ids=["429-without-headers", "429-with-headers"])
@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("latency_s", [0.05, 0.2])
def test_a_limit_stated_per_minute_and_enforced_per_second_ends_near_the_minimum_with_almost_no_429(
    dialect: str, latency_s: float, headers_on_429: bool
) -> None:
    server = FaultServer(rate_per_s=50, burst=50, headers=dialect, stated_per_minute=3000)
    outcome, limiter = simulate(server, latency_s=latency_s, headers_on_429=headers_on_429)
    assert outcome.failed == 0 and outcome.answered == 300
    assert outcome.share_429 <= 0.01, f"{outcome.rate_limited} of {outcome.rate_limited + outcome.answered} were 429s"
    assert outcome.wall_s <= 1.05 * 5.0 + latency_s, "the last request goes within 5% of 5.0 s"
    assert limiter.quantized and limiter.burst is not None and limiter.burst <= 50 + 1e-6
    assert limiter.requests_per_s == pytest.approx(50, rel=0.03), "the stated rate is kept: 3000 a minute"


def test_once_quantized_the_headers_remaining_never_raises_the_pace_again() -> None:
    server = FaultServer(rate_per_s=50, burst=50, headers="openai", stated_per_minute=3000)
    sim = FaultSimulation(server)
    limiter = sim.limiter()
    sim.batch(limiter, 300)
    assert limiter.rate_limited <= 3
    second = sim.batch(limiter, 300)  # the same limiter, a second batch: it starts where the first left off
    assert second.failed == 0 and limiter.rate_limited <= 3, "nothing new to learn: no more 429s"


@pytest.mark.parametrize(
    ("server", "n"),
    [
        (FaultServer(rate_per_s=50, burst=50, headers="openai"), 300),
        (FaultServer(rate_per_s=1, burst=60, headers="anthropic"), 120),  # Anthropic's limits are per minute
        (FaultServer(rate_per_s=50, burst=50, headers="none"), 300),
        (FaultServer(rate_per_s=1000, burst=1000, headers="openai", tokens_per_minute=60_000), 300),
    ],
    ids=["openai", "anthropic", "no-headers", "tokens"],
)
def test_headers_that_describe_the_enforced_bucket_or_none_at_all_learn_no_ceiling(server: FaultServer, n: int) -> None:
    outcome, limiter = simulate(server, n=n, tokens=400 if server.tokens_per_minute else 0)
    assert outcome.failed == 0
    assert not limiter.quantized


# -- overloads ------------------------------------------------------------------------------------


def sdk_batch(server: FaultServer, n: int, seed: int) -> FaultOutcome:
    """A client shaped like the openai SDK's: no limiter, three attempts, its own waits."""
    return FaultSimulation(server, seed=seed).batch(None, n, attempts=3, wait=sdk_wait)


@pytest.mark.parametrize("n", [40, 100])
def test_random_capacity_429s_hold_nothing_back_and_keep_up_with_the_sdk(n: int) -> None:
    def overloaded(seed: int) -> FaultServer:
        return FaultServer(rate_per_s=1e6, burst=1e6, headers="none", overload_share=0.3, seed=seed)

    kit, sdk = [], []
    for seed in range(21):
        outcome, limiter = simulate(overloaded(seed), seed=seed, n=n)
        assert limiter.overloaded == outcome.overloaded > 0 and limiter.rate_limited == 0
        assert outcome.held_back_s == 0.0 and limiter.requests_per_s is None, "an overload is not a pace to learn"
        kit.append(outcome)
        sdk.append(sdk_batch(overloaded(seed), n, seed))
    kit_wall = statistics.median(o.wall_s for o in kit)
    sdk_wall = statistics.median(o.wall_s for o in sdk)
    assert kit_wall <= 1.5 * sdk_wall, f"{kit_wall:.2f} s against the SDK's {sdk_wall:.2f} s"
    assert sum(o.failed for o in kit) <= sum(o.failed for o in sdk)


@pytest.mark.parametrize("headers_on_429", [False, True], ids=["429-without-headers", "429-with-headers"])
def test_capacity_429s_at_a_rate_limited_server_keep_the_pace_learned_from_the_headers(headers_on_429: bool) -> None:
    server = FaultServer(rate_per_s=50, burst=50, headers="openai", overload_share=0.3)
    outcome, limiter = simulate(server, headers_on_429=headers_on_429)
    assert outcome.failed == 0 and outcome.answered == 300
    assert outcome.rate_limited <= 3, "the server's own limit is kept"
    assert limiter.requests_per_s == pytest.approx(50, rel=0.05) and not limiter.quantized
    minimum = (285 - 50) / 50  # 95% of the answers: the rest wait for their own retries' backoff
    assert outcome.answered_at[284] <= 1.1 * minimum + 0.05, "the batch keeps the server's rate"


def test_a_429_whose_headers_say_the_allowance_is_not_spent_is_an_overload() -> None:
    headers = {"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "31"}
    error = RateLimitError()
    error.headers = headers  # type: ignore[attr-defined]
    assert is_overload(error)
    time = [0.0]
    limiter = AdaptiveLimiter(clock=lambda: time[0])
    for _ in range(10):
        limiter.observe(limiter.reserve(), {**headers, "x-ratelimit-reset-requests": "400ms"})
    rate = limiter.requests_per_s
    limiter.observe(limiter.reserve(), error_headers(error), overloaded=True, retry_after=5.0)
    assert limiter.requests_per_s == rate and limiter.rate_limited == 0 and limiter.overloaded == 1
    assert limiter.reserve().wait < 1.0, "its Retry-After is the failed request's wait, not the batch's"


# -- a restart ------------------------------------------------------------------------------------


def restart_losses(policy: RetryPolicy, seeds: range) -> list[int]:
    """Requests lost by 50-request batches (0.2 s an answer) across a 2 s outage starting 0.3 s in."""
    lost = []
    for seed in seeds:
        server = FaultServer(rate_per_s=1e6, burst=1e6, headers="none", outage=(0.3, 2.3))
        sim = FaultSimulation(server, seed=seed)
        wait = client_wait(policy)
        outcome = sim.batch(sim.limiter(), 50, latency_s=0.2, attempts=policy.max_retries + 1, wait=wait)
        assert outcome.answered + outcome.failed == 50
        lost.append(outcome.failed)
    return lost


def test_with_the_default_retry_settings_a_batch_rides_out_a_two_second_restart() -> None:
    lost = restart_losses(RetryPolicy(), range(20))
    assert statistics.median(lost) == 0, f"requests lost in each of 20 runs: {lost}"


def test_two_retries_with_base_half_a_second_do_not_ride_it_out() -> None:
    lost = restart_losses(RetryPolicy(max_retries=2, backoff_base_s=0.5), range(20))
    assert statistics.median(lost) >= 10, "about 0.75 s of waiting in all: every request in flight is lost"
