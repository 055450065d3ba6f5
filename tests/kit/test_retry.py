"""The waits and the decisions: retry_delay (llm_client/retry_after.py), RetryPolicy and Call (llm_client/_internal/),
and default_wait and after_failure (llm_client/client.py)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from fake_time import FakeTime

from llm_client import (
    AuthenticationError,
    DeadlineExceededError,
    InvalidRequestError,
    LLMTimeoutError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    backoff_delay,
    retry_delay,
)
from llm_client._internal.calls import Call
from llm_client._internal.policy import RetryPolicy
from llm_client.client import after_failure, default_wait

pytestmark = pytest.mark.kit


class Backoff:
    """A stand-in backoff that records the attempts it was asked about."""

    def __init__(self, value: float = 0.75) -> None:
        self.value = value
        self.asked: list[int] = []

    def __call__(self, attempt: int) -> float:
        self.asked.append(attempt)
        return self.value


# -- retry_delay ------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [0.0, 0.25, 2.0, 59.9, 60.0])
def test_429_waits_retry_after_when_it_is_at_most_the_limit(retry_after: float) -> None:
    backoff = Backoff()
    wait = retry_delay(RateLimitError(retry_after=retry_after), 1, max_retry_after_s=60.0, backoff=backoff)
    assert wait == retry_after
    assert backoff.asked == []  # the backoff is not even drawn


@pytest.mark.parametrize("retry_after", [60.01, 3600.0])
def test_429_falls_back_to_backoff_for_that_attempt_when_retry_after_is_too_long(retry_after: float) -> None:
    backoff = Backoff(1.5)
    wait = retry_delay(RateLimitError(retry_after=retry_after), 2, max_retry_after_s=60.0, backoff=backoff)
    assert wait == 1.5
    assert backoff.asked == [2]


def test_429_without_retry_after_uses_backoff_for_that_attempt() -> None:
    backoff = Backoff(0.3)
    assert retry_delay(RateLimitError(), 0, max_retry_after_s=60.0, backoff=backoff) == 0.3
    assert backoff.asked == [0]


# -- RetryPolicy -----------------------------------------------------------------------------


def test_policy_defaults_are_the_documented_ones() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.timeout_s, policy.deadline_s, policy.max_retry_after_s) == (6, 30.0, None, 60.0)
    assert (policy.backoff_base_s, policy.backoff_cap_s) == (0.25, 8.0)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_retries", -1, ValueError),
        ("max_retries", 1.0, TypeError),
        ("max_retries", True, TypeError),
        ("timeout_s", 0, ValueError),
        ("timeout_s", -1.0, ValueError),
        ("timeout_s", math.nan, ValueError),
        ("deadline_s", 0.0, ValueError),
        ("deadline_s", math.inf, ValueError),
        ("max_retry_after_s", -1.0, ValueError),
        ("backoff_base_s", -0.1, ValueError),
        ("backoff_cap_s", "8", TypeError),
    ],
)
def test_policy_rejects_bad_numbers_naming_the_field(field: str, value: Any, error: type) -> None:
    with pytest.raises(error, match=field):
        RetryPolicy(**{field: value})


# -- Call, after_failure and default_wait ---------------------------------------------------------


class _Decided:
    """A call whose after_failure reads like a method, as the tests below use it."""

    def __init__(self, call: Call) -> None:
        self.call = call

    def after_failure(self, error: Any, attempt: int) -> float:
        return after_failure(self.call, error, attempt)

    def attempt_timeout(self) -> float:
        return self.call.attempt_timeout()


def state(policy: RetryPolicy, *, clock: FakeTime | None = None, seed: int = 5) -> _Decided:
    clock = clock or FakeTime(start=100.0)
    rng = random.Random(seed)

    def waits(error: Any, attempt: int) -> float:
        return default_wait(error, attempt, policy=policy, rng=rng)

    return _Decided(Call(policy, key=None, clock=clock.clock, waits=waits, request_id="r1", model="m"))


def test_call_wait_is_the_wait_rule_it_was_given_for_that_error_and_attempt() -> None:
    asked: list[tuple[Any, int]] = []

    def waits(error: Any, attempt: int) -> float:
        asked.append((error, attempt))
        return 1.25 * (attempt + 1)

    error = ServerError("503")
    call = Call(RetryPolicy(), key=None, clock=lambda: 0.0, waits=waits, request_id="r1", model="m")
    assert call.wait(error, 2) == 3.75
    assert asked == [(error, 2)]


def test_default_wait_honours_a_5xx_retry_after_within_the_limit_else_backs_off() -> None:
    policy = RetryPolicy(max_retry_after_s=10.0, backoff_base_s=1.0, backoff_cap_s=8.0)
    asked = ServerError("503", status_code=503, retry_after=4.0)
    assert default_wait(asked, 0, policy=policy, rng=random.Random(1)) == 4.0
    too_long = ServerError("503", status_code=503, retry_after=40.0)
    assert default_wait(too_long, 2, policy=policy, rng=random.Random(1)) == random.Random(1).uniform(0.0, 4.0)


def test_a_non_retryable_error_is_raised_as_it_is() -> None:
    error = AuthenticationError("bad key", status_code=401)
    with pytest.raises(AuthenticationError) as caught:
        state(RetryPolicy()).after_failure(error, 0)
    assert caught.value is error


def test_a_retryable_error_before_the_last_attempt_gives_the_jittered_backoff() -> None:
    policy = RetryPolicy(max_retries=3, backoff_base_s=1.0, backoff_cap_s=8.0)
    retry = state(policy, seed=9)
    waits = [retry.after_failure(ServerError("503"), attempt) for attempt in range(3)]
    expected = random.Random(9)
    assert waits == [expected.uniform(0.0, backoff_delay(a, base=1.0, cap=8.0)) for a in range(3)]


def test_a_retryable_error_on_the_last_attempt_ends_the_call_with_the_count_and_cause() -> None:
    last = LLMTimeoutError("slow")
    with pytest.raises(RetriesExhaustedError) as caught:
        state(RetryPolicy(max_retries=2)).after_failure(last, 2)
    assert type(caught.value) is RetriesExhaustedError
    assert caught.value.attempts == 3
    assert caught.value.last_error is last
    assert caught.value.__cause__ is last
    assert "LLMTimeoutError" in str(caught.value)


def test_a_rate_limit_uses_retry_after_within_the_policy_limit() -> None:
    retry = state(RetryPolicy(max_retry_after_s=10.0))
    assert retry.after_failure(RateLimitError(retry_after=7.0), 0) == 7.0
    fallback = retry.after_failure(RateLimitError(retry_after=11.0), 1)
    assert fallback == random.Random(5).uniform(0.0, backoff_delay(1, base=RetryPolicy().backoff_base_s))


def test_a_wait_that_would_pass_the_deadline_ends_the_call_early() -> None:
    clock = FakeTime(start=100.0)
    retry = state(RetryPolicy(max_retries=5, deadline_s=10.0), clock=clock)
    clock.now = 104.0  # four seconds of the ten used
    assert retry.after_failure(RateLimitError(retry_after=6.0), 0) == 6.0  # ends exactly at the deadline
    with pytest.raises(DeadlineExceededError) as caught:
        retry.after_failure(RateLimitError(retry_after=6.5), 1)
    assert caught.value.attempts == 2
    assert isinstance(caught.value.__cause__, RateLimitError)


def test_the_attempt_timeout_is_shortened_to_what_is_left_of_the_deadline() -> None:
    clock = FakeTime(start=0.0)
    retry = state(RetryPolicy(timeout_s=30.0, deadline_s=45.0), clock=clock)
    assert retry.attempt_timeout() == 30.0
    clock.now = 20.0
    assert retry.attempt_timeout() == 25.0
    clock.now = 45.0
    assert 0 < retry.attempt_timeout() <= 0.01  # still a positive timeout, never zero or negative


def test_the_attempt_timeout_is_the_policy_timeout_without_a_deadline() -> None:
    clock = FakeTime(start=0.0)
    retry = state(RetryPolicy(timeout_s=12.5), clock=clock)
    clock.now = 1e6
    assert retry.attempt_timeout() == 12.5


def test_invalid_request_is_never_retried_even_with_retries_left() -> None:
    error = InvalidRequestError("HTTP 400", status_code=400)
    with pytest.raises(InvalidRequestError) as caught:
        state(RetryPolicy(max_retries=10)).after_failure(error, 0)
    assert caught.value is error
