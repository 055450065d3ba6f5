"""Exercise 1: the retry loop. after_failure decides, after each failed attempt, to retry (and how long to wait)
or to give up, and logs what it decided.

Graded through LLMClient and AsyncLLMClient with a FakeProvider, a fake clock and a recorded sleep, so no test
waits. The waits come from fixed stand-ins for exercises 3 and 4 (the backoff and the rate-limit wait), so this
exercise needs neither; the expected outcomes come from the oracle in fault_oracle.py, written from the rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from llm_client import (
    AsyncLLMClient,
    AuthenticationError,
    DeadlineExceededError,
    FakeProvider,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
)
from llm_client._internal.policy import RetryState
from tests.grader.fault_oracle import Prediction, Settings, Step, fault_sequence, predict, step_of

pytestmark = pytest.mark.ex1

REQ = LLMRequest(model="m", prompt="hello")
FILLER = ServerError("HTTP 503", status_code=503)


def backoff(attempt: int) -> float:
    """The stand-in backoff: 0.25 s doubled per attempt, up to 8 s, without jitter (exercise 3 is not needed)."""
    return min(8.0, 0.25 * 2.0**attempt)


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """RetryState's waits without exercises 3 and 4: the stand-in backoff, and Retry-After up to the cap."""

    def fixed_backoff(state: RetryState, attempt: int) -> float:
        return backoff(attempt)

    def rate_limit_wait(state: RetryState, error: RateLimitError, attempt: int) -> float:
        asked = error.retry_after
        return asked if asked is not None and asked <= state.policy.max_retry_after_s else backoff(attempt)

    monkeypatch.setattr(RetryState, "backoff", fixed_backoff)
    monkeypatch.setattr(RetryState, "rate_limit_wait", rate_limit_wait)


class Clock:
    """Fake monotonic seconds: moved by the recorded sleeps and by the attempts' costs."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def scripted(clock: Clock, replies: list[tuple[str | LLMError, float]]) -> FakeProvider:
    """A FakeProvider whose n-th call takes replies[n]'s seconds, then answers or raises; then 503s for ever."""

    def taking(reply: str | LLMError, cost_s: float) -> Callable[[LLMRequest], str]:
        def answer(req: LLMRequest) -> str:
            clock.now += cost_s
            if isinstance(reply, LLMError):
                raise reply
            return reply

        return answer

    def filler(req: LLMRequest) -> str:
        raise FILLER

    return FakeProvider([taking(reply, cost) for reply, cost in replies], default=filler)


def client_for(clock: Clock, provider: FakeProvider, settings: Settings) -> LLMClient:
    return LLMClient(
        provider,
        sleep=clock.sleep,
        clock=clock,
        max_retries=settings.max_retries,
        timeout_s=settings.timeout_s,
        deadline_s=settings.deadline_s,
        max_retry_after_s=settings.max_retry_after_s,
    )


def oracle(replies: list[tuple[str | LLMError, float]], settings: Settings) -> Prediction:
    return predict([step_of(r, c) for r, c in replies], settings, backoff=backoff, filler=Step(retryable=True))


def run(replies: list[tuple[str | LLMError, float]], settings: Settings) -> tuple[Clock, FakeProvider, object]:
    """Call once; return the clock (with its sleeps), the provider (with its calls) and the text or the error."""
    clock = Clock()
    provider = scripted(clock, replies)
    try:
        outcome: object = client_for(clock, provider, settings).call(REQ)
    except LLMError as exc:
        outcome = exc
    return clock, provider, outcome


def check_against_oracle(
    replies: list[tuple[str | LLMError, float]],
    settings: Settings,
    outcome: object,
    sleeps: list[float],
    calls: int,
    what: str,
) -> None:
    """The outcome, the attempts, the waits and the error chain are what the rules say."""
    want = oracle(replies, settings)
    context = f"{what}: replies {[r for r, _ in replies]!r}, {settings}"
    assert calls == want.attempts, f"expected {want.attempts} attempt(s), got {calls} ({context})"
    assert sleeps == want.waits, f"expected the waits {want.waits}, got {sleeps} ({context})"
    if want.text is not None:
        assert outcome == want.text, f"expected the answer {want.text!r}, got {outcome!r} ({context})"
        return
    last = replies[want.attempts - 1][0] if want.attempts <= len(replies) else FILLER
    if want.gave_up == "not_retryable":
        assert outcome is last, f"expected the non-retryable {last!r} raised as it is, got {outcome!r} ({context})"
        return
    wrapper = DeadlineExceededError if want.gave_up == "deadline" else RetriesExhaustedError
    assert type(outcome) is wrapper, f"expected {wrapper.__name__}, got {outcome!r} ({context})"
    assert isinstance(outcome, RetriesExhaustedError)
    assert outcome.last_error is last and outcome.__cause__ is last, (
        f"expected last_error and __cause__ to be the last attempt's error {last!r}, "
        f"got {outcome.last_error!r} and {outcome.__cause__!r} ({context})"
    )
    assert outcome.attempts == want.attempts, (
        f"expected attempts={want.attempts} on the error, got {outcome.attempts} ({context})"
    )


# -- retry or raise -------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_an_error_that_is_not_retryable_is_raised_at_once_as_it_is() -> None:
    for error in (InvalidRequestError("bad request", status_code=400), AuthenticationError("no", status_code=401)):
        clock, provider, outcome = run([(error, 0.0), ("never", 0.0)], Settings(max_retries=3))
        assert outcome is error, f"expected the {type(error).__name__} itself to be raised, got {outcome!r}"
        assert provider.call_count == 1, f"expected 1 attempt for a {type(error).__name__}, got {provider.call_count}"
        assert clock.sleeps == [], f"expected no wait before raising a {type(error).__name__}, got {clock.sleeps}"


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_retryable_errors_are_retried_after_the_backoff_until_an_answer() -> None:
    replies: list[tuple[str | LLMError, float]] = [
        (ServerError("HTTP 503", status_code=503), 0.0),
        (LLMTimeoutError("read timed out"), 0.0),
        (LLMConnectionError("connection reset"), 0.0),
        ("ok", 0.0),
    ]
    clock, provider, outcome = run(replies, Settings(max_retries=3))
    assert outcome == "ok", f"expected the answer after three transient errors, got {outcome!r}"
    assert provider.call_count == 4, f"expected 4 attempts, got {provider.call_count}"
    assert clock.sleeps == [backoff(0), backoff(1), backoff(2)], (
        f"expected the backoff of attempts 0, 1, 2 ({[backoff(0), backoff(1), backoff(2)]}), got {clock.sleeps}"
    )


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_after_the_last_attempt_it_gives_up_with_the_last_error_chained() -> None:
    errors = [ServerError(f"HTTP 50{n}", status_code=500 + n) for n in range(3)]
    clock, provider, outcome = run([(e, 0.0) for e in errors] + [("too late", 0.0)], Settings(max_retries=2))
    assert isinstance(outcome, RetriesExhaustedError) and not isinstance(outcome, DeadlineExceededError), (
        f"expected RetriesExhaustedError after 3 failed attempts, got {outcome!r}"
    )
    assert provider.call_count == 3, f"expected max_retries + 1 = 3 attempts, got {provider.call_count}"
    assert outcome.attempts == 3, f"expected attempts=3 on the error, got {outcome.attempts}"
    assert outcome.last_error is errors[2], f"expected last_error to be the third error, got {outcome.last_error!r}"
    assert outcome.__cause__ is errors[2], "expected the last error chained as __cause__ (raise ... from error)"
    assert clock.sleeps == [backoff(0), backoff(1)], f"expected no wait after the last attempt, got {clock.sleeps}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_max_retries_zero_means_one_attempt_and_no_wait() -> None:
    error = LLMTimeoutError("read timed out")
    clock, provider, outcome = run([(error, 0.0), ("ok", 0.0)], Settings(max_retries=0))
    assert isinstance(outcome, RetriesExhaustedError), f"expected RetriesExhaustedError, got {outcome!r}"
    assert outcome.last_error is error and outcome.attempts == 1, "expected 1 attempt, the timeout as last_error"
    assert provider.call_count == 1 and clock.sleeps == [], (
        f"expected 1 attempt and no wait, got {provider.call_count} attempt(s) and {clock.sleeps}"
    )


# -- the wait -------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_a_429_waits_what_the_rate_limit_wait_says_and_other_errors_the_backoff() -> None:
    replies: list[tuple[str | LLMError, float]] = [
        (RateLimitError(retry_after=2.0), 0.0),
        (ServerError("HTTP 502", status_code=502), 0.0),
        (RateLimitError(retry_after=0.0), 0.0),
        (RateLimitError(retry_after=None), 0.0),
        (RateLimitError(retry_after=600.0), 0.0),
        ("ok", 0.0),
    ]
    clock, _provider, outcome = run(replies, Settings(max_retries=5, max_retry_after_s=60.0))
    assert outcome == "ok", f"expected the answer after five failures, got {outcome!r}"
    want = [2.0, backoff(1), 0.0, backoff(3), backoff(4)]
    assert clock.sleeps == want, (
        "expected Retry-After 2 s, the backoff after the 502, Retry-After 0 s, then the backoff for a 429 "
        f"without Retry-After and for one above max_retry_after_s: {want}, got {clock.sleeps}"
    )


@pytest.mark.points(2)
@pytest.mark.hint(3)
def test_the_deadline_stops_before_a_wait_that_would_pass_it() -> None:
    errors = [ServerError("HTTP 503", status_code=503), RateLimitError(retry_after=30.0)]
    clock, provider, outcome = run([(errors[0], 1.0), (errors[1], 1.0), ("ok", 0.0)], Settings(deadline_s=10.0))
    assert type(outcome) is DeadlineExceededError, f"expected DeadlineExceededError, got {outcome!r}"
    assert provider.call_count == 2, f"expected 2 attempts (the 30 s wait would pass 10 s), got {provider.call_count}"
    assert clock.sleeps == [backoff(0)], f"expected only the first wait, got {clock.sleeps}"
    assert outcome.last_error is errors[1] and outcome.__cause__ is errors[1], (
        "expected the 429 as last_error and __cause__"
    )
    assert outcome.attempts == 2, f"expected attempts=2 on the error, got {outcome.attempts}"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_a_wait_that_ends_exactly_at_the_deadline_is_taken() -> None:
    replies: list[tuple[str | LLMError, float]] = [(RateLimitError(retry_after=3.0), 2.0), ("ok", 0.0)]
    clock, _provider, outcome = run(replies, Settings(deadline_s=5.0))
    assert outcome == "ok", (
        f"expected the wait of 3 s after 2 s to be taken (it ends at the 5 s deadline), got {outcome!r}"
    )
    assert clock.sleeps == [3.0], f"expected one wait of 3 s, got {clock.sleeps}"


# -- the log --------------------------------------------------------------------------------


def events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "llm_client" and str(getattr(r, "event", "")).startswith("llm.")]


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_each_failed_attempt_logs_one_event_and_a_retry_its_wait(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_client")
    replies: list[tuple[str | LLMError, float]] = [
        (ServerError("HTTP 503", status_code=503), 0.5),
        (RateLimitError(retry_after=1.5), 0.75),  # fails 0.5 + 0.25 + 0.75 = 1.5 s after the call began
        ("ok", 0.0),
    ]
    run(replies, Settings(max_retries=3))
    got = [(r.event, r.attempt) for r in events(caplog)]  # type: ignore[attr-defined]
    want = [
        ("llm.attempt_failed", 0),
        ("llm.retry_scheduled", 0),
        ("llm.attempt_failed", 1),
        ("llm.retry_scheduled", 1),
        ("llm.attempt_ok", 2),
    ]
    assert got == want, f"expected the events (event, attempt) {want}, got {got}"
    failed = [r for r in events(caplog) if r.event == "llm.attempt_failed"]  # type: ignore[attr-defined]
    assert [r.error_type for r in failed] == ["ServerError", "RateLimitError"], (  # type: ignore[attr-defined]
        "expected error_type to be the error's class name on each llm.attempt_failed"
    )
    assert failed[0].levelno == logging.WARNING, "expected llm.attempt_failed at WARNING"
    latencies = [r.latency_s for r in failed]  # type: ignore[attr-defined]
    assert latencies == [0.5, 0.75], (
        f"expected latency_s on each llm.attempt_failed to be the seconds that attempt took ([0.5, 0.75]), got "
        f"{latencies} (state.latency(), not state.elapsed(): elapsed counts from the first attempt, waits included)"
    )
    scheduled = [r for r in events(caplog) if r.event == "llm.retry_scheduled"]  # type: ignore[attr-defined]
    assert [r.sleep_s for r in scheduled] == [backoff(0), 1.5], (  # type: ignore[attr-defined]
        f"expected sleep_s on each llm.retry_scheduled to be the wait ({[backoff(0), 1.5]})"
    )
    for record in events(caplog):
        assert record.request_id and record.model == "m", (  # type: ignore[attr-defined]
            "expected request_id and model on every event (state.log adds them)"
        )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_giving_up_logs_one_event_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_client")
    cases: list[tuple[list[tuple[str | LLMError, float]], Settings, str]] = [
        ([(InvalidRequestError("bad", status_code=400), 0.0)], Settings(), "not_retryable"),
        ([(LLMTimeoutError("slow"), 0.0)], Settings(max_retries=0), "attempts_exhausted"),
        ([(RateLimitError(retry_after=50.0), 0.0)], Settings(deadline_s=20.0), "deadline"),
    ]
    for replies, settings, reason in cases:
        caplog.clear()
        run(replies, settings)
        gave_up = [r for r in events(caplog) if r.event == "llm.gave_up"]  # type: ignore[attr-defined]
        assert len(gave_up) == 1, f"expected one llm.gave_up event ({reason}), got {len(gave_up)}"
        record = gave_up[0]
        assert record.reason == reason and record.levelno == logging.ERROR, (  # type: ignore[attr-defined]
            f"expected llm.gave_up at ERROR with reason={reason!r}, got reason={record.reason!r}"  # type: ignore[attr-defined]
        )
        assert record.error_type == type(replies[0][0]).__name__ and record.attempt == 0, (  # type: ignore[attr-defined]
            f"expected error_type={type(replies[0][0]).__name__} and attempt=0 on llm.gave_up ({reason})"
        )


# -- fault sequences ------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_fixed_seed_fault_sequences_end_as_the_rules_say_in_both_clients() -> None:
    for seed in range(300):
        replies, settings = fault_sequence(seed)
        clock, provider, outcome = run(replies, settings)
        check_against_oracle(replies, settings, outcome, clock.sleeps, provider.call_count, f"seed {seed}")
    for seed in range(0, 300, 3):
        replies, settings = fault_sequence(seed)
        clock = Clock()
        provider = scripted(clock, replies)
        client = AsyncLLMClient(
            provider,
            sleep=clock.async_sleep,
            clock=clock,
            max_retries=settings.max_retries,
            timeout_s=settings.timeout_s,
            deadline_s=settings.deadline_s,
            max_retry_after_s=settings.max_retry_after_s,
        )
        try:
            outcome = asyncio.run(client.call(REQ))
        except LLMError as exc:
            outcome = exc
        check_against_oracle(replies, settings, outcome, clock.sleeps, provider.call_count, f"async, seed {seed}")
