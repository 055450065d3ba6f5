"""The behaviour both clients promise, written once and run through LLMClient and AsyncLLMClient.

Every test takes ``make_client``, a fixture with two params: ``sync`` builds an
LLMClient, ``async`` an AsyncLLMClient whose calls are run with ``asyncio.run``.
Both sleep on the same fake clock, so a case asserts the same attempts,
sleeps, cache contents, errors and log lines for both, and nothing waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import fake_time as shared
import pytest
from fake_time import SEED, FakeTime, taking
from fake_time import jittered as shared_jittered
from pydantic import BaseModel

from llm_client import (
    AsyncLLMClient,
    DeadlineExceededError,
    FakeProvider,
    InvalidRequestError,
    LLMClient,
    LLMRequest,
    LLMTimeoutError,
    MemoryCache,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    StructuredOutputError,
    make_cache_key,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="test-model", prompt="Name the capital of France.")


class City(BaseModel):
    name: str
    population: int


VALID_CITY = '{"name": "Paris", "population": 2102650}'


class ClientUnderTest:
    """One client of either kind behind one synchronous interface."""

    def __init__(self, client: LLMClient | AsyncLLMClient) -> None:
        self.client = client

    def call(self, req: LLMRequest, **options: Any) -> str:
        if isinstance(self.client, AsyncLLMClient):
            return asyncio.run(self.client.call(req, **options))
        return self.client.call(req, **options)

    def call_structured(self, req: LLMRequest, schema: type[City], **options: Any) -> City:
        if isinstance(self.client, AsyncLLMClient):
            return asyncio.run(self.client.call_structured(req, schema, **options))
        return self.client.call_structured(req, schema, **options)


MakeClient = Callable[..., ClientUnderTest]


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime(start=500.0)


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest, fake_time: FakeTime) -> MakeClient:
    """``make_client(provider, **options)``: an LLMClient or an AsyncLLMClient on the fake clock, seeded rng."""

    def make(provider: FakeProvider, **options: Any) -> ClientUnderTest:
        if request.param == "sync":
            return ClientUnderTest(shared.make_client(provider, fake_time, **options))
        return ClientUnderTest(shared.make_async_client(provider, fake_time, **options))

    return make


def jittered(attempts: range) -> list[float]:
    return shared_jittered(attempts, seed=SEED)


# -- attempts and sleeps ----------------------------------------------------------------------


def test_a_success_after_transient_failures_returns_the_text_after_jittered_backoff(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    provider = FakeProvider([ServerError("503"), LLMTimeoutError("slow"), "Paris."])
    assert make_client(provider).call(REQ) == "Paris."
    assert provider.call_count == 3
    assert fake_time.sleeps == jittered(range(2))


def test_retryable_errors_are_tried_max_retries_plus_one_times_then_retries_exhausted(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    errors = [ServerError(f"503 #{n}") for n in range(5)]
    provider = FakeProvider(errors)
    with pytest.raises(RetriesExhaustedError) as caught:
        make_client(provider, max_retries=3).call(REQ)
    assert provider.call_count == 4
    assert caught.value.attempts == 4
    assert caught.value.last_error is errors[3]
    assert caught.value.__cause__ is errors[3]


def test_no_sleep_after_the_last_attempt(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503")] * 3)
    with pytest.raises(RetriesExhaustedError):
        make_client(provider, max_retries=2).call(REQ)
    assert fake_time.sleeps == jittered(range(2)), "two sleeps between three attempts, none after the last"


def test_max_retries_zero_means_one_attempt_and_no_sleep(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503"), "never asked"])
    with pytest.raises(RetriesExhaustedError) as caught:
        make_client(provider, max_retries=0).call(REQ)
    assert (provider.call_count, caught.value.attempts, fake_time.sleeps) == (1, 1, [])


def test_per_call_max_retries_and_timeout_override_the_clients(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503")] * 3)
    with pytest.raises(RetriesExhaustedError):
        make_client(provider, max_retries=5, timeout_s=30.0).call(REQ, max_retries=1, timeout_s=4.0)
    assert [c.timeout_s for c in provider.calls] == [4.0, 4.0]


def test_a_non_retryable_error_is_tried_once_and_raised_unchanged(make_client: MakeClient, fake_time: FakeTime) -> None:
    error = InvalidRequestError("400: temperature must be <= 2", status_code=400)
    provider = FakeProvider([error, "never asked"])
    with pytest.raises(InvalidRequestError) as caught:
        make_client(provider).call(REQ)
    assert caught.value is error
    assert provider.call_count == 1
    assert fake_time.sleeps == []


def test_not_implemented_error_is_not_retried_or_wrapped(make_client: MakeClient, fake_time: FakeTime) -> None:
    error = NotImplementedError("ex6: OpenAIProvider.complete is not written yet")
    provider = FakeProvider([error, "never asked"])
    with pytest.raises(NotImplementedError) as caught:
        make_client(provider).call(REQ)
    assert caught.value is error
    assert (provider.call_count, fake_time.sleeps) == (1, [])


# -- rate limits ------------------------------------------------------------------------------


def test_a_429_waits_exactly_what_retry_after_asked(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([RateLimitError(retry_after=2.5), RateLimitError(retry_after=0.02), "ok"])
    assert make_client(provider).call(REQ) == "ok"
    assert fake_time.sleeps == [2.5, 0.02]


def test_a_429_without_retry_after_or_with_too_long_a_one_falls_back_to_backoff(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    provider = FakeProvider([RateLimitError(retry_after=None), RateLimitError(retry_after=120.0), "ok"])
    assert make_client(provider, max_retry_after_s=60.0).call(REQ) == "ok"
    assert fake_time.sleeps == jittered(range(2))


# -- timeouts and the deadline ----------------------------------------------------------------


def test_each_attempt_gets_the_timeout_and_the_deadline_shortens_it(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    provider = FakeProvider([taking(9.0, fake_time, LLMTimeoutError("slow")), "ok"])
    client = make_client(provider, timeout_s=10.0, deadline_s=12.0)
    start = fake_time.now
    assert client.call(REQ) == "ok"
    first, second = provider.calls
    assert first.timeout_s == 10.0
    left = 12.0 - (9.0 + fake_time.sleeps[0])
    assert second.timeout_s == pytest.approx(left)
    assert fake_time.now - start == pytest.approx(9.0 + fake_time.sleeps[0])


def test_the_deadline_stops_the_call_before_a_sleep_would_pass_it(make_client: MakeClient, fake_time: FakeTime) -> None:
    error = RateLimitError(retry_after=5.0)
    provider = FakeProvider([error, "never asked"])
    with pytest.raises(DeadlineExceededError) as caught:
        make_client(provider, deadline_s=3.0).call(REQ)
    assert (caught.value.attempts, caught.value.last_error) == (1, error)
    assert provider.call_count == 1
    assert fake_time.sleeps == [], "a sleep that would pass the deadline is never started"


# -- the cache --------------------------------------------------------------------------------


def test_only_successes_are_cached_and_a_hit_skips_the_provider(make_client: MakeClient, fake_time: FakeTime) -> None:
    cache = MemoryCache()
    provider = FakeProvider([InvalidRequestError("400"), "Paris.", "a different answer"])
    client = make_client(provider, cache=cache)
    with pytest.raises(InvalidRequestError):
        client.call(REQ)
    assert len(cache) == 0, "a failure must not be cached"
    assert client.call(REQ) == "Paris."
    assert cache.get(make_cache_key(REQ)) == "Paris."
    assert client.call(REQ) == "Paris."
    assert provider.call_count == 2


def test_use_cache_false_neither_reads_nor_writes_the_cache(make_client: MakeClient, fake_time: FakeTime) -> None:
    cache = MemoryCache()
    cache.set(make_cache_key(REQ), "stale")
    provider = FakeProvider(["fresh"])
    assert make_client(provider, cache=cache).call(REQ, use_cache=False) == "fresh"
    assert cache.get(make_cache_key(REQ)) == "stale"


def test_the_key_function_decides_what_is_a_hit(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider(["first", "second"])
    client = make_client(provider, cache=MemoryCache(), key_fn=lambda req: "one-key")
    other = LLMRequest(model="test-model", prompt="Something else entirely.")
    assert (client.call(REQ), client.call(other)) == ("first", "first")


# -- structured output ------------------------------------------------------------------------


def test_structured_repair_feeds_the_errors_back_and_returns_the_valid_answer(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    cache = MemoryCache()
    provider = FakeProvider(['{"name": "Paris"}', VALID_CITY])
    city = make_client(provider, cache=cache).call_structured(REQ, City, max_repairs=1)
    assert city == City(name="Paris", population=2102650)
    first, repair = (c.request for c in provider.calls)
    assert first == REQ
    assert repair.prompt.startswith(REQ.prompt)
    assert '{"name": "Paris"}' in repair.prompt and "population" in repair.prompt
    assert len(cache) == 1, "the valid answer is cached once, under the schema's key"


def test_structured_gives_up_after_max_repairs_and_caches_nothing(make_client: MakeClient, fake_time: FakeTime) -> None:
    cache = MemoryCache()
    provider = FakeProvider(["not json", "still not json", "never asked"])
    with pytest.raises(StructuredOutputError) as caught:
        make_client(provider, cache=cache).call_structured(REQ, City, max_repairs=1)
    assert caught.value.raw_text == "still not json"
    assert provider.call_count == 2
    assert len(cache) == 0


def test_structured_cache_hit_skips_the_provider(make_client: MakeClient, fake_time: FakeTime) -> None:
    cache = MemoryCache()
    provider = FakeProvider([VALID_CITY, "never asked"])
    client = make_client(provider, cache=cache)
    assert client.call_structured(REQ, City) == client.call_structured(REQ, City)
    assert provider.call_count == 1


def test_structured_answers_are_retried_like_any_call(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([RateLimitError(retry_after=1.0), VALID_CITY])
    assert make_client(provider).call_structured(REQ, City).name == "Paris"
    assert fake_time.sleeps == [1.0]


def test_structured_refuses_a_bad_max_repairs_before_any_call(make_client: MakeClient, fake_time: FakeTime) -> None:
    provider = FakeProvider([VALID_CITY])
    with pytest.raises(ValueError, match="max_repairs"):
        make_client(provider).call_structured(REQ, City, max_repairs=-1)
    assert provider.call_count == 0


# -- bad input and logs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "names"),
    [
        ({"req": "What is 2 + 2?"}, TypeError, "req"),
        ({"use_cache": "yes"}, TypeError, "use_cache"),
        ({"timeout_s": 0}, ValueError, "timeout_s"),
        ({"max_retries": -1}, ValueError, "max_retries"),
    ],
)
def test_bad_arguments_raise_naming_the_argument_before_any_attempt(
    make_client: MakeClient, fake_time: FakeTime, options: dict[str, Any], error: type[Exception], names: str
) -> None:
    provider = FakeProvider(["never asked"])
    options = dict(options)
    req = options.pop("req", REQ)
    with pytest.raises(error, match=names):
        make_client(provider).call(req, **options)
    assert provider.call_count == 0


def test_both_clients_log_the_same_events_with_their_fields(
    make_client: MakeClient, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    provider = FakeProvider([RateLimitError(retry_after=0.5), "ok"])
    client = make_client(provider, cache=MemoryCache())
    with caplog.at_level(logging.INFO, logger="llm_client"):
        client.call(REQ)
        client.call(REQ)
    events = [(r.event, r.attempt, r.error_type) for r in caplog.records]  # type: ignore[attr-defined]
    assert events == [
        ("llm.attempt_failed", 0, "RateLimitError"),
        ("llm.retry_scheduled", 0, "RateLimitError"),
        ("llm.attempt_ok", 1, None),
        ("llm.cache_hit", None, None),
    ]
    ids = {r.request_id for r in caplog.records[:3]}  # type: ignore[attr-defined]
    assert len(ids) == 1 and all(r.model == "test-model" for r in caplog.records)  # type: ignore[attr-defined]
