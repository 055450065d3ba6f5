"""The rate limiter (llm_client/limiter.py): token buckets that lend, one or two of them behind a lock.

Times are seconds on a fake clock; nothing sleeps for real. The grader
(tests/grader/test_ex7_token_bucket.py) checks TokenBucket.take's arithmetic
case by case; here the guarantee itself is checked for any arrival pattern,
with RateLimiter's sync and async waits, threads, and bad input.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_client import (
    AsyncLLMClient,
    FakeProvider,
    LLMClient,
    LLMConnectionError,
    LLMRequest,
    ProviderError,
    QuotaExceededError,
    RateLimiter,
    RateLimitError,
    ServerError,
    TokenBucket,
    estimate_tokens,
)
from llm_client._internal.rate_limiter import PacedProvider, is_overload

pytestmark = pytest.mark.kit


class FrozenClock:
    """A clock that moves only when told, and sleeps that record instead of waiting."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self.async_slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 9))

    async def async_sleep(self, seconds: float) -> None:
        self.async_slept.append(round(seconds, 9))


def limiter(fake: FrozenClock, requests_per_s: float = 50.0, **options: Any) -> RateLimiter:
    return RateLimiter(requests_per_s, clock=fake.clock, sleep=fake.sleep, async_sleep=fake.async_sleep, **options)


# -- the guarantee, for any arrivals -----------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200.0),
    capacity=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=60),
)
def test_requests_sent_when_told_never_exceed_the_bucket_and_keep_their_order(
    rate: float, capacity: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate, capacity, start=0.0)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    sends = [now + bucket.take(now) for now in arrivals]
    assert all(later >= earlier - 1e-9 for earlier, later in itertools.pairwise(sends)), "order kept"
    for i in range(len(sends)):
        for j in range(i, len(sends)):
            # Requests i..j all went within sends[j] - sends[i] seconds: at most capacity + rate * that.
            assert j - i + 1 <= capacity + rate * (sends[j] - sends[i]) + 1e-6
    for now, send in zip(arrivals, sends, strict=True):
        assert send >= now


def test_a_bucket_that_is_never_short_never_makes_anyone_wait() -> None:
    bucket = TokenBucket(rate=10.0, capacity=1, start=0.0)
    waits = [bucket.take(t / 10) for t in range(50)]
    assert max(waits) < 1e-9, "arrivals exactly one interval apart wait nothing (up to float rounding)"


# -- RateLimiter -----------------------------------------------------------------------------


def test_acquire_spaces_requests_one_interval_apart_and_reports_the_wait() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 50.0)
    waited = [paced.acquire() for _ in range(5)]
    assert [round(w, 9) for w in waited] == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert fake.slept == [0.02, 0.04, 0.06, 0.08], "no sleep at all when there is no wait"
    assert fake.async_slept == []


def test_aacquire_waits_with_the_async_sleep_only() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 10.0)

    async def three() -> list[float]:
        return [await paced.aacquire() for _ in range(3)]

    assert [round(w, 9) for w in asyncio.run(three())] == [0.0, 0.1, 0.2]
    assert fake.async_slept == [0.1, 0.2]
    assert fake.slept == []


def test_burst_lets_that_many_go_at_once_after_a_quiet_spell() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 10.0, burst=3)
    first = [round(paced.reserve(), 9) for _ in range(4)]
    fake.now += 60.0
    after_quiet = [round(paced.reserve(), 9) for _ in range(4)]
    assert first == after_quiet == [0.0, 0.0, 0.0, 0.1]


def test_tokens_per_minute_holds_back_large_requests() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 100.0, burst=100, tokens_per_minute=1200)
    waits = [round(paced.reserve(tokens=600), 9) for _ in range(3)]
    assert waits == [0.0, 0.0, 30.0], "1200 tokens a minute is 20 a second: 600 more tokens take 30 s"


def test_tokens_count_only_under_a_tokens_per_minute_limit() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 100.0, burst=100)
    assert [paced.reserve(tokens=10**9) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_request_larger_than_a_minutes_tokens_is_refused_naming_tokens() -> None:
    paced = limiter(FrozenClock(), tokens_per_minute=1000)
    with pytest.raises(ValueError, match="tokens"):
        paced.reserve(tokens=1001)


def test_threads_that_arrive_together_each_get_their_own_turn() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 100.0)
    start = threading.Barrier(32)
    waits: list[float] = []
    lock = threading.Lock()

    def take_turns() -> None:
        start.wait(timeout=10)
        for _ in range(10):
            wait = paced.reserve()
            with lock:
                waits.append(round(wait, 6))

    threads = [threading.Thread(target=take_turns) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(waits) == [round(n * 0.01, 6) for n in range(320)], "every turn handed out exactly once"


def test_tasks_wait_in_the_order_they_asked() -> None:
    fake = FrozenClock()
    paced = limiter(fake, 20.0)
    order: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        order.append((n, round(await paced.aacquire(), 9)))

    async def all_of_them() -> None:
        await asyncio.gather(*(one(n) for n in range(5)))

    asyncio.run(all_of_them())
    assert order == [(0, 0.0), (1, 0.05), (2, 0.1), (3, 0.15), (4, 0.2)]


def test_repr_shows_the_limits() -> None:
    assert repr(RateLimiter(50, burst=2, tokens_per_minute=90000)) == (
        "RateLimiter(requests_per_s=50, burst=2, tokens_per_minute=90000)"
    )


# -- PacedProvider ----------------------------------------------------------------------------


def test_a_paced_provider_makes_every_attempt_of_a_client_wait_its_turn() -> None:
    fake = FrozenClock()
    provider = FakeProvider([ServerError("503"), "ok", "ok again"])
    client = LLMClient(PacedProvider(provider, limiter(fake, 4.0)), sleep=lambda s: None)
    assert client.call(LLMRequest(model="m", prompt="a")) == "ok"
    assert client.call(LLMRequest(model="m", prompt="b")) == "ok again"
    assert fake.slept == [0.25, 0.5], "three attempts (one a retry), three turns"


def test_a_paced_provider_waits_with_the_async_sleep_in_the_async_client() -> None:
    fake = FrozenClock()
    client = AsyncLLMClient(PacedProvider(FakeProvider(), limiter(fake, 2.0)))

    async def two() -> list[str]:
        return [await client.call(LLMRequest(model="m", prompt=p)) for p in ("a", "b")]

    assert asyncio.run(two()) == ["[m] a", "[m] b"]
    assert (fake.async_slept, fake.slept) == ([0.5], [])


def test_a_paced_provider_counts_estimated_tokens_under_a_tokens_per_minute_limit() -> None:
    fake = FrozenClock()
    paced = PacedProvider(FakeProvider(), limiter(fake, 100.0, burst=10, tokens_per_minute=600))
    big = LLMRequest(model="m", prompt="x", max_tokens=299)
    for _ in range(3):
        paced.complete(big, timeout_s=1.0)
    assert fake.slept == [30.0], "600 tokens a minute: the third 300-token request waits 30 s"


def test_a_paced_provider_keeps_the_name_and_refuses_bad_arguments() -> None:
    assert PacedProvider(FakeProvider(), RateLimiter(1)).name == "fake"
    with pytest.raises(TypeError, match="provider"):
        PacedProvider(object(), RateLimiter(1))
    with pytest.raises(TypeError, match="limiter"):
        PacedProvider(FakeProvider(), 50)  # type: ignore[arg-type]


def with_headers(error: ProviderError, headers: dict[str, str]) -> ProviderError:
    """``error`` carrying its response's headers, as a provider may put them on it."""
    error.headers = headers  # type: ignore[attr-defined]
    return error


UNSPENT = {"x-ratelimit-limit-requests": "3000", "x-ratelimit-remaining-requests": "2950"}
SPENT = {"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "0"}
TOKENS_SHORT = {**UNSPENT, "x-ratelimit-limit-tokens": "10000", "x-ratelimit-remaining-tokens": "300"}


@pytest.mark.parametrize(
    ("error", "overload"),
    [
        (ServerError("overloaded", status_code=529), True),
        (ServerError("HTTP 529", status_code=529, provider_message="Overloaded"), True),
        (RateLimitError(provider_message="That model is currently overloaded with other requests."), True),
        (RateLimitError(provider_message="Service tier capacity exceeded for this model."), True),
        (ServerError("503", status_code=503, provider_message="The engine is currently overloaded"), True),
        (with_headers(RateLimitError(), UNSPENT), True),
        (RateLimitError(), False),
        (RateLimitError(provider_message="Rate limit reached for requests. Please try again in 20ms."), False),
        (with_headers(RateLimitError(provider_message="Rate limit reached for requests."), UNSPENT), False),
        (with_headers(RateLimitError(), SPENT), False),
        (with_headers(RateLimitError(), TOKENS_SHORT), False),
        (QuotaExceededError("quota", status_code=429, provider_message="You exceeded your current quota"), False),
        (ServerError("500", status_code=500, provider_message="The server had an error"), False),
        (LLMConnectionError("refused"), False),
    ],
    ids=lambda value: value if isinstance(value, bool) else f"{type(value).__name__}",
)
def test_an_overload_is_told_from_a_rate_limit(error: ProviderError, overload: bool) -> None:
    assert is_overload(error, tokens=500) is overload


class Told:
    """A pacer that records what it is told: (rate_limited, overloaded, retry_after, headers)."""

    def __init__(self) -> None:
        self.told: list[tuple[bool, bool, float | None, dict[str, str]]] = []

    def acquire(self, tokens: int = 0) -> None:
        return None

    async def aacquire(self, tokens: int = 0) -> None:
        return None

    def observe(
        self,
        turn: Any,
        headers: Any,
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        overloaded: bool = False,
    ) -> None:
        self.told.append((rate_limited, overloaded, retry_after, dict(headers)))


def test_a_paced_provider_tells_an_overload_a_rate_limit_and_an_answer_and_nothing_else() -> None:
    failures: list[ProviderError] = [
        RateLimitError(retry_after=0.5, provider_message="Rate limit reached for requests."),
        RateLimitError(retry_after=2.0, provider_message="That model is currently overloaded."),
        ServerError("529", status_code=529, provider_message="Overloaded"),
        with_headers(RateLimitError(), UNSPENT),
        ServerError("500", status_code=500),
        LLMConnectionError("refused"),
    ]
    pacer = Told()
    paced = PacedProvider(FakeProvider([*failures, "ok"]), pacer)
    for _ in failures:
        with pytest.raises(ProviderError):
            paced.complete(LLMRequest(model="m", prompt="p"), timeout_s=1.0)
    paced.complete(LLMRequest(model="m", prompt="p"), timeout_s=1.0)
    assert [(limited, overloaded, wait) for limited, overloaded, wait, _ in pacer.told] == [
        (True, False, 0.5),
        (False, True, None),
        (False, True, None),
        (False, True, None),
        (False, False, None),
    ], "a rate limit with its wait; three overloads; the answer; a 500 and a broken connection say nothing"
    assert pacer.told[2][3] == {} and pacer.told[3][3] == UNSPENT, "the headers an error carries go along"


def test_a_paced_provider_tells_the_same_in_the_async_client() -> None:
    pacer = Told()
    overloaded = ServerError("529", status_code=529, provider_message="Overloaded")
    client = AsyncLLMClient(PacedProvider(FakeProvider([overloaded, "ok"]), pacer), sleep=fake_async_sleep)
    assert asyncio.run(client.call(LLMRequest(model="m", prompt="p"))) == "ok"
    assert [(limited, over) for limited, over, _, _ in pacer.told] == [(False, True), (False, False)]


async def fake_async_sleep(seconds: float) -> None:
    pass


def test_a_rate_limiter_is_told_of_overloads_and_learns_nothing() -> None:
    limiter = RateLimiter(10.0, clock=lambda: 0.0)
    limiter.observe(None, {}, overloaded=True)
    assert limiter.reserve() == 0.0 and limiter.reserve() == pytest.approx(0.1)


# -- estimate_tokens -------------------------------------------------------------------------


def test_estimate_tokens_counts_four_characters_a_token_plus_max_tokens() -> None:
    req = LLMRequest(model="m", prompt="x" * 41, system_prompt="y" * 7, max_tokens=100)
    assert estimate_tokens(req) == math.ceil(48 / 4) + 100
    assert estimate_tokens(LLMRequest(model="m", prompt="x")) == 1


def test_estimate_tokens_refuses_what_is_not_a_request() -> None:
    with pytest.raises(TypeError, match="req"):
        estimate_tokens("What is 2 + 2?")  # type: ignore[arg-type]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "options", "error", "names"),
    [
        ((0,), {}, ValueError, "requests_per_s"),
        ((float("nan"),), {}, ValueError, "requests_per_s"),
        (("50",), {}, TypeError, "requests_per_s"),
        ((50,), {"burst": 0}, ValueError, "burst"),
        ((50,), {"burst": 1.5}, TypeError, "burst"),
        ((50,), {"tokens_per_minute": 0}, ValueError, "tokens_per_minute"),
        ((50,), {"clock": 3.0}, TypeError, "clock"),
        ((50,), {"sleep": None}, TypeError, "sleep"),
        ((50,), {"async_sleep": "later"}, TypeError, "async_sleep"),
    ],
)
def test_bad_limiter_arguments_are_refused_naming_them(
    args: tuple[Any, ...], options: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        RateLimiter(*args, **options)


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: TokenBucket(0, 1), ValueError, "rate"),
        (lambda: TokenBucket(1, 0), ValueError, "capacity"),
        (lambda: TokenBucket(1, 1, start=float("inf")), ValueError, "start"),
        (lambda: TokenBucket(1, 2).take(float("nan")), ValueError, "now"),
        (lambda: TokenBucket(1, 2).take(0.0, 3), ValueError, "amount"),
        (lambda: TokenBucket(1, 2).take(0.0, -1), ValueError, "amount"),
        (lambda: RateLimiter(5).reserve(tokens=-1), ValueError, "tokens"),
        (lambda: RateLimiter(5).reserve(tokens=2.5), TypeError, "tokens"),  # type: ignore[arg-type]
    ],
)
def test_bad_bucket_and_reserve_arguments_are_refused_naming_them(
    call: Any, error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        call()


def test_closing_a_paced_provider_closes_the_provider_it_wraps() -> None:
    closed: list[str] = []

    class Closable(FakeProvider):
        def close(self) -> None:
            closed.append("closed")

    LLMClient(PacedProvider(Closable(), RateLimiter(10.0))).close()
    assert closed == ["closed"]
