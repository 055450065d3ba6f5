"""Exercise 7 (optional): the token bucket behind the rate limiter (TokenBucket.take).

Times are seconds on a clock the tests choose; rates are tokens per second.
``take(now, amount)`` returns how long the caller must wait before it may use
the tokens it took (0.0 when they are there now).
"""

from __future__ import annotations

import pytest

from llm_client import RateLimiter, TokenBucket

pytestmark = pytest.mark.ex7


def waits(bucket: TokenBucket, times: list[float], amount: float = 1.0) -> list[float]:
    return [round(bucket.take(now, amount), 9) for now in times]


def assert_waits(bucket: TokenBucket, times: list[float], expected: list[float], why: str) -> None:
    """Take one token at each time in ``times``; the waits must be ``expected`` (rounded to 1e-9 s)."""
    got = waits(bucket, times)
    assert got == expected, f"expected waits {expected} for takes at t = {times}, got {got}: {why}"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_a_full_bucket_lets_capacity_requests_go_at_once() -> None:
    assert_waits(
        TokenBucket(rate=2.0, capacity=3, start=0.0), [0.0] * 5, [0.0, 0.0, 0.0, 0.5, 1.0],
        "a full bucket of 3 lets 3 requests go at once; at 2 per second the next ones wait 0.5 s apart",
    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_callers_that_arrive_together_queue_up_one_interval_apart() -> None:
    bucket = TokenBucket(rate=10.0, capacity=1, start=0.0)
    got = waits(bucket, [0.0, 0.0, 0.0, 0.0])
    assert got == [0.0, 0.1, 0.2, 0.3], (
        f"expected waits [0.0, 0.1, 0.2, 0.3] for 4 requests at once at 10 per second, got {got} "
        "(take even when the bucket is empty: the next caller waits behind the one before)"
    )


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_the_bucket_refills_at_rate_tokens_per_second() -> None:
    bucket = TokenBucket(rate=2.0, capacity=5, start=0.0)
    drained = waits(bucket, [0.0] * 5)
    got = waits(bucket, [1.0, 1.0, 1.0])
    assert drained == [0.0] * 5, f"expected a full bucket of 5 to let 5 requests go at once, got {drained}"
    assert got == [0.0, 0.0, 0.5], (
        f"expected waits [0.0, 0.0, 0.5] one second after emptying a bucket refilled at 2 per second, got {got}"
    )
    assert_waits(
        TokenBucket(rate=10.0, capacity=1, start=0.0), [0.0, 0.0, 0.0, 0.0, 0.5, 0.5], [0.0, 0.1, 0.2, 0.3, 0.0, 0.1],
        "at 10 per second, half a second repays the 3 tokens lent and refills one, but no more than capacity 1",
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_long_quiet_spell_never_fills_the_bucket_past_its_capacity() -> None:
    bucket = TokenBucket(rate=4.0, capacity=2, start=0.0)
    got = waits(bucket, [1000.0, 1000.0, 1000.0])
    assert got == [0.0, 0.0, 0.25], (
        f"expected waits [0.0, 0.0, 0.25] after 1000 s idle with capacity 2 at 4 per second, got {got} "
        "(the refill stops at capacity)"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_a_partly_refilled_bucket_shortens_the_wait() -> None:
    assert_waits(
        TokenBucket(rate=10.0, capacity=1, start=0.0), [0.0, 0.05, 0.25, 0.3], [0.0, 0.05, 0.0, 0.05],
        "at 10 per second, half a token refilled leaves half a token to wait for, 0.05 s",
    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_tokens_lent_are_repaid_before_new_ones_go_out() -> None:
    assert_waits(
        TokenBucket(rate=10.0, capacity=1, start=0.0), [0.0, 0.0, 0.0, 0.0, 0.1, 0.35, 0.35],
        [0.0, 0.1, 0.2, 0.3, 0.3, 0.15, 0.25],
        "at 10 per second, the refill first pays back the tokens lent to the callers still waiting (the bucket is "
        "at -3 after four takes at t = 0), so a newcomer queues behind them",
    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_amount_takes_that_many_tokens() -> None:
    per_minute = 600.0
    bucket = TokenBucket(rate=per_minute / 60.0, capacity=per_minute, start=0.0)
    got = waits(bucket, [0.0, 0.0], amount=400.0)
    assert got == [0.0, 20.0], (
        f"expected waits [0.0, 20.0] for two 400-token requests under 600 tokens per minute, got {got}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_clock_reading_earlier_than_the_last_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1, start=10.0)
    first = bucket.take(10.0)
    earlier = bucket.take(9.0)
    assert (first, round(earlier, 9)) == (0.0, 1.0), (
        f"expected waits (0.0, 1.0) for a take at t=10 then one at t=9 (no refill backwards), got {(first, earlier)}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_an_earlier_clock_reading_never_moves_updated_back() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1, start=10.0)
    bucket.take(10.0)
    bucket.take(9.0)
    assert bucket.updated == 10.0, (
        f"expected updated to stay 10.0 after a take at t=9 (it never goes back), got {bucket.updated!r}"
    )
    later = round(bucket.take(11.0), 9)
    assert later == 1.0, (
        f"expected a take at t=11 to wait 1.0 s (three tokens taken: one was in the bucket, one refilled "
        f"since t=10), got {later}: a refill counted from an earlier updated adds tokens twice"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_the_rate_limiter_spaces_requests_evenly() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 9))

    limiter = RateLimiter(50, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == [0.02, 0.04, 0.06], (
        f"expected 4 requests at once under 50 per second to wait [0, 0.02, 0.04, 0.06] s, got sleeps {slept}"
    )
