"""The adaptive limiter (llm_client/_internal/adaptive.py, gcra.py, rate_headers.py): a simulated server, a fake clock.

Every batch here runs in tests/kit/simulated_server.py: a provider's token
bucket and its headers on the simulation's own clock, which the limiter reads
too, so nothing waits for real. The figures asserted are the promises: at a
server that sends its headers, 300 requests at 50/s with a burst of 50 end
within 1.05x of the 5.0 s minimum with at most 1% of answers 429 and no
failure; at one that sends none, at most 5% are 429s. Its schedule, a GCRA
(llm_client/_internal/gcra.py), is tested on its own first.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from fake_time import FakeTime
from simulated_server import Server, Simulation

from llm_client import (
    AdaptiveLimiter,
    AsyncLLMClient,
    LLMClient,
    LLMRequest,
    LLMResponse,
    RateLimitError,
    arun_batch,
    run_batch,
)
from llm_client._internal.adaptive import Turn
from llm_client._internal.gcra import MAX_AHEAD_S, Gcra
from llm_client._internal.rate_headers import Allowance, parse_duration, parse_rate_limits
from llm_client._internal.rate_limiter import PacedProvider

pytestmark = pytest.mark.kit

OPENAI = {
    "x-ratelimit-limit-requests": "5000",
    "x-ratelimit-remaining-requests": "4989",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-limit-tokens": "160000",
    "x-ratelimit-remaining-tokens": "159976",
    "x-ratelimit-reset-tokens": "6m0s",
}
ANTHROPIC = {
    "anthropic-ratelimit-requests-limit": "1000",
    "anthropic-ratelimit-requests-remaining": "999",
    "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z",
    "anthropic-ratelimit-input-tokens-limit": "80000",
    "anthropic-ratelimit-input-tokens-remaining": "80000",
    "anthropic-ratelimit-input-tokens-reset": "2025-08-21T12:40:59Z",
}


# -- the schedule: GCRA -------------------------------------------------------------------------


def schedule(allowance: Gcra, arrivals: list[float], amount: float = 1.0) -> tuple[list[float], Gcra]:
    """The time each request arriving at ``arrivals`` (in order) may go, and the allowance after them."""
    times = []
    for now in arrivals:
        at, allowance = allowance.take(now, amount)
        times.append(at)
    return times, allowance


def test_gcra_lets_a_burst_of_capacity_go_at_once_then_spaces_requests_one_interval_apart() -> None:
    times, after = schedule(Gcra.full(rate=2.0, capacity=3, now=0.0), [0.0] * 5)
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0]), "tau = T * (capacity - 1): three at once, then T = 0.5 s"
    assert after.tat == pytest.approx(2.5) and after.level(0.0) == pytest.approx(-2.0), "two turns handed out ahead"
    assert after.level(2.5) == pytest.approx(3.0) and after.level(100.0) == 3.0, "whole again at tat, never more"


def test_gcra_schedules_each_request_at_the_later_of_its_arrival_and_tat_minus_tau() -> None:
    times, _ = schedule(Gcra.full(rate=10.0, capacity=1, now=0.0), [0.0, 0.05, 0.25, 0.3])
    assert times == pytest.approx([0.0, 0.1, 0.25, 0.35])


def test_gcra_counts_requests_of_several_units_and_never_more_than_its_capacity() -> None:
    times, after = schedule(Gcra.full(rate=100.0, capacity=1000, now=0.0), [0.0, 0.0, 0.0], amount=400)
    assert times == pytest.approx([0.0, 0.0, 2.0]), "800 of 1000 at once; the third waits for 200 more"
    at, _ = after.take(0.0, 5000)
    assert at == pytest.approx(2.0 + 10.0), "a request larger than the allowance counts as the whole of it"


def test_gcra_level_give_back_and_retune() -> None:
    allowance = Gcra.full(rate=4.0, capacity=8, now=10.0).with_level(10.0, -2.0)
    assert allowance.level(10.0) == pytest.approx(-2.0) and allowance.take(10.0)[0] == pytest.approx(10.75)
    assert allowance.give_back(3.0).level(10.0) == pytest.approx(1.0)
    assert allowance.with_level(10.0, 50.0).level(10.0) == 8.0, "never more than the capacity"
    retuned = allowance.retuned(10.0, rate=1.0, capacity=20)
    assert (retuned.rate, retuned.capacity) == (1.0, 20) and retuned.level(10.0) == pytest.approx(-2.0)
    assert retuned.take(10.0)[0] == pytest.approx(13.0), "what it holds is kept; the new rate refills it"


def test_gcra_pause_schedules_nothing_before_it_ends_and_pauses_do_not_add_up() -> None:
    allowance = Gcra.full(rate=2.0, capacity=5, now=0.0).paused(0.0, until=3.0)
    assert allowance.take(0.0)[0] == pytest.approx(3.0) and allowance.level(1.0) == pytest.approx(0.0)
    twice = allowance.paused(1.0, until=2.0).paused(1.0, until=3.5)
    assert twice.take(1.0)[0] == pytest.approx(3.5), "the later end wins"
    owing = Gcra.full(rate=2.0, capacity=5, now=0.0).with_level(0.0, -1.0).paused(0.0, until=3.0)
    assert owing.take(0.0)[0] == pytest.approx(3.5), "what was owed is still owed after the pause"
    raised = allowance.with_level(1.0, 5.0)
    assert raised.take(1.0)[0] == pytest.approx(2.5), "refilled or not, nothing goes before the pause ends (until - T)"


@pytest.mark.parametrize(
    ("rate", "capacity", "until"),
    [(1e-300, 1.0, 5.0), (1e-9, 1e300, 5.0), (1e300, 1e-300, 5.0), (1.0, 10.0, 1e300), (1.0, 10.0, math.inf)],
)
def test_gcra_stays_finite_whatever_the_headers_say(rate: float, capacity: float, until: float) -> None:
    allowance = Gcra.full(rate, capacity, now=100.0).paused(100.0, until)
    for _ in range(3):
        at, allowance = allowance.take(100.0, capacity)
        assert math.isfinite(at) and 100.0 <= at <= 100.0 + 2 * MAX_AHEAD_S
    for value in (allowance.tat, allowance.level(100.0), allowance.retuned(100.0, 1.0, 1.0).tat):
        assert not math.isnan(value) and value != math.inf


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 1.0), (-1.0, 1.0), (math.nan, 1.0), (1.0, math.inf), (1.0, 0.0)])
def test_gcra_refuses_a_rate_or_capacity_that_is_not_a_finite_positive_number(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match=r"rate|capacity"):
        Gcra.full(rate, capacity, now=0.0)


# -- reading the headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20ms", 0.02), ("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("17.13s", 17.13), ("1.5", 1.5)],
)
def test_go_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 s", "-1s", "1d", "ms", "nan"])
def test_what_is_not_a_duration_reads_as_none(text: str) -> None:
    assert parse_duration(text) is None


def read(allowance: Allowance | None) -> tuple[Any, ...]:
    assert allowance is not None
    return allowance.limit, allowance.remaining, allowance.rate_per_s, allowance.reset_s


def test_openai_headers_give_each_bucket_and_its_refill_rate() -> None:
    limits = parse_rate_limits({name.upper(): value for name, value in OPENAI.items()})
    assert read(limits.requests) == (5000, 4989, pytest.approx(10 / 0.12), 0.12), "(used - 1) / reset"
    assert read(limits.tokens) == (160000, 159976, pytest.approx(23 / 360), 360.0)


def test_anthropic_headers_are_per_minute_and_fall_back_to_input_tokens() -> None:
    limits = parse_rate_limits(ANTHROPIC)
    assert read(limits.requests) == (1000, 999, pytest.approx(1000 / 60), None)
    assert read(limits.tokens) == (80000, 80000, pytest.approx(80000 / 60), None)


def test_missing_or_malformed_headers_give_no_allowance() -> None:
    assert parse_rate_limits({}).requests is None
    assert (
        parse_rate_limits({"x-ratelimit-limit-requests": "many", "x-ratelimit-remaining-requests": "1"}).requests
        is None
    )
    assert parse_rate_limits({**ANTHROPIC, "anthropic-ratelimit-requests-reset": "tomorrow"}).requests is None


def test_a_reading_with_less_than_two_used_gives_no_rate() -> None:
    one_used = {**OPENAI, "x-ratelimit-remaining-requests": "4999", "x-ratelimit-reset-requests": "1ms"}
    allowance = parse_rate_limits(one_used).requests
    assert allowance is not None and allowance.rate_per_s is None


# -- batches against a simulated server ---------------------------------------------------------


@pytest.mark.parametrize("latency_s", [0.05, 0.2])
def test_with_openai_headers_300_requests_end_near_the_minimum_with_no_429_to_speak_of(latency_s: float) -> None:
    sim = Simulation(Server(rate_per_s=50, burst=50, headers="openai"))
    limiter = sim.limiter()
    outcome = sim.run(limiter, 300, concurrency=16, latency_s=latency_s)
    assert outcome.failed == 0 and outcome.answered == 300
    assert outcome.share_429 <= 0.01
    assert outcome.wall_s <= 1.05 * 5.0 + latency_s, "the last request goes within 5% of 5.0 s"
    assert limiter.requests_per_s == pytest.approx(50, rel=0.02) and limiter.burst == 50
    assert not limiter.quantized, "the headers describe the bucket enforced: no 429 says otherwise"


def test_with_anthropic_headers_a_per_minute_limit_is_kept() -> None:
    sim = Simulation(Server(rate_per_s=1, burst=60, headers="anthropic"))
    limiter = sim.limiter()
    outcome = sim.run(limiter, 120, concurrency=8, latency_s=0.2)
    assert outcome.failed == 0 and outcome.share_429 <= 0.01
    assert outcome.wall_s <= 1.05 * 60 + 0.2
    assert not limiter.quantized


@pytest.mark.parametrize("headers", ["openai", "anthropic"])
def test_a_tokens_per_minute_limit_is_learned_and_kept(headers: str) -> None:
    server = Server(rate_per_s=1000, burst=1000, headers=headers, tokens_per_minute=60_000)
    sim = Simulation(server)
    limiter = sim.limiter()
    outcome = sim.run(limiter, 300, concurrency=16, latency_s=0.05, tokens=400)
    assert outcome.failed == 0 and outcome.share_429 <= 0.01
    minimum = (300 * 400 - 60_000) / 1000  # the burst of a minute's tokens, then 1000 a second
    assert minimum <= outcome.wall_s <= 1.05 * minimum + 0.05
    assert limiter.tokens_per_minute == pytest.approx(60_000, rel=0.02)
    assert not limiter.quantized, "a 429 for tokens, with requests to spare, is the token limit's"


@pytest.mark.parametrize(("burst", "latency_s"), [(50, 0.05), (50, 0.2), (5, 0.05)])
@pytest.mark.parametrize("seed", [0, 1])
def test_with_no_headers_the_batch_converges_through_429s(burst: int, latency_s: float, seed: int) -> None:
    sim = Simulation(Server(rate_per_s=50, burst=burst, headers="none"), seed=seed)
    limiter = sim.limiter()
    outcome = sim.run(limiter, 300, concurrency=16, latency_s=latency_s)
    assert outcome.failed == 0 and outcome.share_429 <= 0.05
    assert limiter.requests_per_s is not None and 35 <= limiter.requests_per_s <= 65
    assert outcome.wall_s <= 1.3 * 300 / 50
    assert not limiter.quantized


# -- the rules, one at a time -------------------------------------------------------------------


def test_before_any_signal_nothing_is_held_back() -> None:
    limiter = AdaptiveLimiter(clock=lambda: 0.0)
    assert [limiter.reserve().wait for _ in range(20)] == [0.0] * 20
    assert limiter.requests_per_s is None


def test_a_429_without_headers_drops_the_rate_once_per_schedule_and_withdraws_waiting_turns() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock, decrease=0.5)
    first = [limiter.reserve() for _ in range(10)]
    time.now = 0.5  # ten sent in the last half second: 20/s
    limiter.observe(first[0], {}, rate_limited=True)
    assert limiter.requests_per_s == pytest.approx(10.0)
    waiting = limiter.reserve()
    assert waiting.wait == pytest.approx(0.1)
    limiter.observe(first[1], {}, rate_limited=True)  # sent before the drop: nothing new
    assert limiter.requests_per_s == pytest.approx(10.0)
    after = limiter.reserve()
    limiter.observe(after, {}, rate_limited=True)  # sent under the new pace, and still a 429: drop again
    assert limiter.requests_per_s == pytest.approx(5.0)
    again = limiter.confirm(waiting)
    assert again.seq != waiting.seq and again.wait > 0, "the turn waited for was withdrawn: it queues again"


def test_answers_without_headers_raise_the_rate_by_about_increase_per_s_each_second() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock, sleep=time.sleep, decrease=0.5, increase_per_s=2.0)
    first = [limiter.reserve() for _ in range(10)]
    time.now = 0.5
    limiter.observe(first[0], {}, rate_limited=True)
    assert limiter.requests_per_s == pytest.approx(10.0)
    while time.now < 1.5:  # one second of answers, each as soon as its turn comes
        turn = limiter.acquire()
        limiter.observe(turn, {})
    assert limiter.requests_per_s == pytest.approx(12.0, abs=0.3)


def test_a_first_reading_of_a_full_bucket_is_learned_from_not_divided_by_zero() -> None:
    limiter = AdaptiveLimiter(clock=lambda: 0.0)
    full = {**ANTHROPIC, "anthropic-ratelimit-requests-remaining": "1000"}  # the input tokens are full too
    limiter.observe(limiter.reserve(), full)
    assert limiter.requests_per_s == pytest.approx(1000 / 60) and limiter.tokens_per_minute == pytest.approx(80000)


def test_retry_after_holds_every_turn_until_it_has_passed() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    limiter.observe(limiter.reserve(), {}, rate_limited=True, retry_after=3.0)
    assert limiter.reserve().wait >= 3.0


def test_the_answers_headers_line_the_bucket_up_with_what_the_server_has_left() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    turns = [limiter.reserve() for _ in range(5)]
    headers = {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "8s",
    }
    limiter.observe(turns[0], headers)  # 2 left (2.5 on average, as it is rounded down) after the first; 4 sent since
    assert limiter.requests_per_s == pytest.approx(7 / 8) and limiter.burst == 10
    wait = limiter.reserve().wait
    assert wait == pytest.approx(2.5 / (7 / 8) + 0.05), "1.5 owed and this one: 2.5 units, and 0.05 s kept back"


def per_minute(limit: int, used: int) -> dict[str, str]:
    """OpenAI's headers for a bucket of ``limit`` a minute with ``used`` taken: reset when it is full again."""
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(limit - used),
        "x-ratelimit-reset-requests": f"{used * 60 / limit:g}s",
    }


def stated_3000_a_minute(time: FakeTime, limiter: AdaptiveLimiter) -> list[Turn]:
    """Twenty answers stating 3000 a minute (50 a second), read at time 0; the turns they answered."""
    turns = [limiter.reserve() for _ in range(20)]
    for used, turn in enumerate(turns, start=1):
        limiter.observe(turn, per_minute(3000, used))
    assert limiter.burst == 3000 and limiter.requests_per_s == pytest.approx(50, rel=0.1)
    return turns


def test_a_429_while_the_stated_allowance_is_not_spent_caps_the_burst_at_one_seconds_worth() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    stated_3000_a_minute(time, limiter)
    refused = limiter.reserve()
    limiter.observe(refused, {}, rate_limited=True)  # 2980 left, by the headers: the server enforces less
    assert limiter.quantized and limiter.burst == pytest.approx(limiter.requests_per_s)
    assert limiter.reserve().wait > 0, "the 429 is the truth: the copy of the bucket is empty"
    later = limiter.reserve()
    limiter.observe(later, per_minute(3000, 30))  # 2970 left: said of the minute, not of the bucket enforced
    assert limiter.reserve().wait > 0, "the headers' remaining never raises the pace again"


def test_each_later_429_with_the_allowance_unspent_halves_the_ceiling_and_an_earlier_one_does_not() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    stated_3000_a_minute(time, limiter)
    before = [limiter.reserve() for _ in range(3)]
    limiter.observe(before[0], {}, rate_limited=True)
    ceiling = limiter.burst
    assert ceiling is not None
    limiter.observe(before[1], {}, rate_limited=True)  # sent before the ceiling was set: nothing new
    assert limiter.burst == ceiling
    after = limiter.reserve()
    time.now = after.at
    limiter.observe(after, {}, rate_limited=True)
    assert limiter.burst == pytest.approx(ceiling / 2)


def test_a_429_when_the_stated_allowance_is_spent_is_the_one_the_headers_foretold() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    turns = [limiter.reserve() for _ in range(50)]
    for used, turn in enumerate(turns, start=1):
        limiter.observe(turn, {**per_minute(50, used), "x-ratelimit-reset-requests": f"{used * 20}ms"})
    limiter.observe(limiter.reserve(), {}, rate_limited=True)
    assert not limiter.quantized and limiter.burst == 50


def test_an_overload_changes_neither_the_pace_nor_the_schedule() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock)
    stated_3000_a_minute(time, limiter)
    rate, burst = limiter.requests_per_s, limiter.burst
    limiter.observe(limiter.reserve(), {}, overloaded=True, retry_after=30.0)
    limiter.observe(limiter.reserve(), {}, rate_limited=True, overloaded=True)  # an overload, whatever else it says
    assert (limiter.requests_per_s, limiter.burst, limiter.quantized) == (rate, burst, False)
    assert (limiter.overloaded, limiter.rate_limited) == (2, 0)
    assert limiter.reserve().wait == 0.0, "no pause for the overload's Retry-After: that is its own retry's wait"


def test_without_headers_an_overload_neither_drops_nor_raises_the_rate() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock, decrease=0.5)
    first = [limiter.reserve() for _ in range(10)]
    time.now = 0.5
    limiter.observe(first[0], {}, rate_limited=True)
    assert limiter.requests_per_s == pytest.approx(10.0)
    for _ in range(5):
        limiter.observe(limiter.reserve(), {}, overloaded=True)
    assert limiter.requests_per_s == pytest.approx(10.0)


def test_acquire_sleeps_on_the_injected_sleep_and_takes_a_withdrawn_turn_again() -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock, sleep=time.sleep)
    limiter.observe(limiter.reserve(), {}, rate_limited=True, retry_after=2.0)
    turn = limiter.acquire()
    assert time.sleeps and turn.wait == pytest.approx(sum(time.sleeps)) and time.now >= 2.0


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"decrease": 1.0}, ValueError, "decrease"),
        ({"decrease": 0}, ValueError, "decrease"),
        ({"increase_per_s": -1}, ValueError, "increase_per_s"),
        ({"clock": 3}, TypeError, "clock"),
    ],
)
def test_bad_settings_are_refused_naming_them(options: dict[str, Any], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        AdaptiveLimiter(**options)


def test_a_turn_from_elsewhere_is_refused() -> None:
    limiter = AdaptiveLimiter()
    with pytest.raises(TypeError, match="turn"):
        limiter.observe(0.0, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tokens"):
        limiter.reserve(-1)


# -- in the batch runners -----------------------------------------------------------------------


class Published:
    """A provider that answers with OpenAI's headers for a 50/s, burst-50 limit, and 429s when told to."""

    name = "published"

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0

    def _answer(self, req: LLMRequest) -> LLMResponse:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RateLimitError(retry_after=None)
        remaining = max(0, 50 - self.calls)
        headers = {
            "x-ratelimit-limit-requests": "50",
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{(50 - remaining) * 20}ms",
        }
        return LLMResponse(text=req.prompt, model=req.model, headers=headers)

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        return self._answer(req)

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        return self._answer(req)


REQUESTS = [LLMRequest(model="m", prompt=f"question {n}") for n in range(6)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_batch_shares_one_limiter_that_learns_from_every_answer_and_429(mode: str) -> None:
    time = FakeTime(start=0.0)
    limiter = AdaptiveLimiter(clock=time.clock, sleep=time.sleep, async_sleep=time.async_sleep)
    provider = Published(fail_first=1)
    if mode == "sync":
        client: Any = LLMClient(provider, sleep=time.sleep)
        results = run_batch(client, REQUESTS, concurrency=3, limiter=limiter, progress=False)
    else:
        client = AsyncLLMClient(provider, sleep=time.async_sleep)
        results = asyncio.run(arun_batch(client, REQUESTS, concurrency=3, limiter=limiter, progress=False))
    assert results == [req.prompt for req in REQUESTS]
    assert limiter.rate_limited == 1 and limiter.burst == 50
    assert limiter.requests_per_s is not None and 35 <= limiter.requests_per_s <= 50, "no faster than the headers say"


def test_by_default_a_batch_paces_with_a_new_adaptive_limiter() -> None:
    seen: list[Any] = []

    class Looking(Published):
        def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            return self._answer(req)

    client = LLMClient(Looking())
    original = PacedProvider.__init__

    def spy(self: PacedProvider, provider: Any, limiter: Any) -> None:
        seen.append(limiter)
        original(self, provider, limiter)

    PacedProvider.__init__ = spy  # type: ignore[method-assign]
    try:
        run_batch(client, REQUESTS, progress=False)
        run_batch(client, REQUESTS, progress=False)
    finally:
        PacedProvider.__init__ = original  # type: ignore[method-assign]
    assert len(seen) == 2 and all(isinstance(lim, AdaptiveLimiter) for lim in seen) and seen[0] is not seen[1]
    assert seen[0].burst == 50, "it learned from the answers' headers"


def test_the_paced_provider_tells_the_limiter_of_each_answer_and_each_429() -> None:
    told: list[tuple[Any, dict[str, str], bool, float | None]] = []

    class Recording(AdaptiveLimiter):
        def observe(
            self,
            turn: Turn,
            headers: Any,
            *,
            rate_limited: bool = False,
            retry_after: float | None = None,
            overloaded: bool = False,
        ) -> None:
            told.append((turn, dict(headers), rate_limited, retry_after))

    paced = PacedProvider(Published(fail_first=1), Recording(clock=lambda: 0.0))
    with pytest.raises(RateLimitError):
        paced.complete(REQUESTS[0], timeout_s=1.0)
    paced.complete(REQUESTS[1], timeout_s=1.0)
    assert [(rate_limited, bool(headers)) for _, headers, rate_limited, _ in told] == [(True, False), (False, True)]
    assert all(isinstance(turn, Turn) for turn, *_ in told)
