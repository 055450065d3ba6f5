"""LLMClient.call: cache, attempts, timeouts, retries, sleeps and the deadline (llm_client/client.py)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import respx
from fake_time import SEED, FakeTime, make_client, taking
from fake_time import jittered as shared_jittered
from provider_payloads import OPENAI_BASE_URL, openai_completion

from llm_client import (
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    FakeProvider,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    backoff_delay,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def jittered(attempts: range, *, base: float = 0.25, cap: float = 8.0) -> list[float]:
    return shared_jittered(attempts, seed=SEED, base=base, cap=cap)


# -- answers and the cache -------------------------------------------------------------------


def test_call_returns_the_providers_text_for_the_request(fake_time: FakeTime) -> None:
    provider = FakeProvider(["Paris."])
    assert make_client(provider, fake_time).call(REQ) == "Paris."
    assert provider.calls[0].request is REQ


def test_a_repeated_call_is_answered_from_the_cache(fake_time: FakeTime) -> None:
    provider = FakeProvider(["Paris.", "something else"])
    client = make_client(provider, fake_time, cache=MemoryCache())
    assert client.call(REQ) == "Paris."
    assert client.call(LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")) == "Paris."
    assert provider.call_count == 1


def test_a_different_request_is_not_answered_from_the_cache(fake_time: FakeTime) -> None:
    provider = FakeProvider(["Paris.", "Madrid."])
    client = make_client(provider, fake_time, cache=MemoryCache())
    client.call(REQ)
    assert client.call(LLMRequest(model="gpt-4o-mini", prompt="Name the capital of Spain.")) == "Madrid."


def test_the_cache_key_comes_from_key_fn(fake_time: FakeTime) -> None:
    cache = MemoryCache()
    make_client(FakeProvider(["Paris."]), fake_time, cache=cache, key_fn=lambda req: f"key:{req.model}").call(REQ)
    assert cache.get("key:gpt-4o-mini") == "Paris."


def test_use_cache_false_neither_reads_nor_writes_the_cache(fake_time: FakeTime) -> None:
    cache = MemoryCache()
    provider = FakeProvider(["first", "second", "third"])
    client = make_client(provider, fake_time, cache=cache)
    assert client.call(REQ, use_cache=False) == "first"
    assert len(cache) == 0
    assert client.call(REQ) == "second"  # now cached
    assert client.call(REQ, use_cache=False) == "third"
    assert provider.call_count == 3


@pytest.mark.parametrize(
    "script",
    [
        [InvalidRequestError("HTTP 400", status_code=400)],
        [ServerError("HTTP 503", status_code=503)] * 3,
        [RateLimitError(retry_after=1.0)] * 3,
    ],
    ids=["not-retryable", "server-errors", "rate-limits"],
)
def test_a_failed_call_caches_nothing_and_the_next_success_is_cached(
    script: list[LLMError], fake_time: FakeTime
) -> None:
    cache = MemoryCache()
    client = make_client(FakeProvider([*script, "Paris."]), fake_time, cache=cache, max_retries=2)
    with pytest.raises(LLMError):
        client.call(REQ)
    assert len(cache) == 0
    assert client.call(REQ) == "Paris."
    assert len(cache) == 1


# -- attempts and what is retried ------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_at_most_max_retries_plus_one_attempts_and_no_sleep_after_the_last(
    max_retries: int, fake_time: FakeTime
) -> None:
    errors = [ServerError(f"HTTP 503 #{i}", status_code=503) for i in range(max_retries + 1)]
    provider = FakeProvider([*errors, "never reached"])
    with pytest.raises(RetriesExhaustedError) as caught:
        make_client(provider, fake_time, max_retries=max_retries).call(REQ)
    assert provider.call_count == max_retries + 1
    assert caught.value.attempts == max_retries + 1
    assert caught.value.last_error is errors[-1]
    assert caught.value.__cause__ is errors[-1]
    assert len(fake_time.sleeps) == max_retries


def test_max_retries_of_a_call_overrides_the_clients(fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503")] * 5)
    with pytest.raises(RetriesExhaustedError):
        make_client(provider, fake_time, max_retries=4).call(REQ, max_retries=1)
    assert provider.call_count == 2


@pytest.mark.parametrize(
    "error",
    [
        LLMTimeoutError("no answer in time"),
        LLMConnectionError("connection refused"),
        RateLimitError(retry_after=0.5),
        ServerError("HTTP 529", status_code=529),
        MalformedResponseError("HTML instead of JSON", status_code=200),
    ],
    ids=lambda error: type(error).__name__,
)
def test_retryable_errors_are_retried_until_an_attempt_succeeds(error: LLMError, fake_time: FakeTime) -> None:
    provider = FakeProvider([error, error, "Paris."])
    assert make_client(provider, fake_time, max_retries=2).call(REQ) == "Paris."
    assert provider.call_count == 3
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequestError("HTTP 400: bad temperature", status_code=400),
        AuthenticationError("HTTP 401", status_code=401),
        ConfigurationError("no API key"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_non_retryable_errors_are_raised_at_once_unchanged(error: LLMError, fake_time: FakeTime) -> None:
    provider = FakeProvider([error, "never reached"])
    with pytest.raises(LLMError) as caught:
        make_client(provider, fake_time, max_retries=5).call(REQ)
    assert caught.value is error
    assert provider.call_count == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "error",
    [NotImplementedError("a stub"), TypeError("bad argument"), KeyError("choices"), ValueError("bug")],
    ids=lambda error: type(error).__name__,
)
def test_programming_errors_are_never_retried_or_wrapped(error: Exception, fake_time: FakeTime) -> None:
    provider = FakeProvider([error, "never reached"])
    with pytest.raises(type(error)) as caught:
        make_client(provider, fake_time, max_retries=5).call(REQ)
    assert caught.value is error
    assert not isinstance(caught.value, LLMError)
    assert provider.call_count == 1
    assert fake_time.sleeps == []


# -- sleeping per policy ---------------------------------------------------------------------


def test_sleeps_between_attempts_are_the_jittered_backoff_of_each_attempt(fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503"), LLMTimeoutError("slow"), LLMConnectionError("reset"), "ok"])
    client = make_client(provider, fake_time, max_retries=3, backoff_base_s=1.0, backoff_cap_s=3.0)
    assert client.call(REQ) == "ok"
    assert fake_time.sleeps == jittered(range(3), base=1.0, cap=3.0)


@pytest.mark.parametrize(
    ("retry_after", "limit", "honoured"),
    [
        (2.0, 60.0, True),
        (0.25, 60.0, True),
        (60.0, 60.0, True),
        (61.0, 60.0, False),
        (61.0, 120.0, True),
        (None, 60.0, False),
    ],
)
def test_a_rate_limit_waits_retry_after_up_to_the_limit_else_the_backoff(
    retry_after: float | None, limit: float, honoured: bool, fake_time: FakeTime
) -> None:
    provider = FakeProvider([RateLimitError(retry_after=retry_after), "ok"])
    assert make_client(provider, fake_time, max_retry_after_s=limit).call(REQ) == "ok"
    assert fake_time.sleeps == ([retry_after] if honoured else jittered(range(1)))


def test_the_default_retry_after_limit_is_sixty_seconds(fake_time: FakeTime) -> None:
    provider = FakeProvider([RateLimitError(retry_after=60.0), RateLimitError(retry_after=60.5), "ok"])
    make_client(provider, fake_time).call(REQ)
    assert fake_time.sleeps[0] == 60.0
    # the honoured wait drew nothing, so the fallback is the rng's first draw, for attempt 1
    assert fake_time.sleeps[1] == random.Random(SEED).uniform(0.0, backoff_delay(1, base=0.25))


# -- timeouts --------------------------------------------------------------------------------


def test_each_attempt_gets_the_clients_timeout_or_the_calls(fake_time: FakeTime) -> None:
    provider = FakeProvider([LLMTimeoutError("slow"), "ok", "ok"])
    client = make_client(provider, fake_time, timeout_s=12.0)
    client.call(REQ)
    client.call(LLMRequest(model="m", prompt="other"), timeout_s=2.5)
    assert [call.timeout_s for call in provider.calls] == [12.0, 12.0, 2.5]


def test_the_per_attempt_timeout_reaches_the_http_layer(fake_time: FakeTime) -> None:
    with httpx.Client() as http, respx.mock(base_url=OPENAI_BASE_URL) as router:
        route = router.post("/chat/completions").mock(
            side_effect=[
                httpx.Response(503, json={"error": {"message": "busy"}}),
                httpx.Response(200, json=openai_completion()),
                httpx.Response(200, json=openai_completion()),
            ]
        )
        client = make_client(OpenAIProvider(api_key="sk-test", http_client=http), fake_time, timeout_s=7.5)
        client.call(REQ)
        client.call(REQ, timeout_s=1.25)
    timeouts = [call.request.extensions["timeout"] for call in route.calls]
    assert timeouts == [dict.fromkeys(("connect", "read", "write", "pool"), t) for t in (7.5, 7.5, 1.25)]


# -- the deadline ----------------------------------------------------------------------------


def test_the_deadline_bounds_the_whole_call_sleeps_included(fake_time: FakeTime) -> None:
    provider = FakeProvider(default=taking(0.5, fake_time, ServerError("HTTP 503", status_code=503)))
    client = make_client(provider, fake_time, max_retries=50, deadline_s=5.0, backoff_base_s=1.0, backoff_cap_s=4.0)
    with pytest.raises(DeadlineExceededError) as caught:
        client.call(REQ)
    assert fake_time.elapsed() <= 5.0
    assert provider.call_count >= 2
    assert caught.value.attempts == provider.call_count
    assert isinstance(caught.value.__cause__, ServerError)
    assert isinstance(caught.value, RetriesExhaustedError)


def test_a_retry_after_past_the_deadline_ends_the_call_without_sleeping(fake_time: FakeTime) -> None:
    provider = FakeProvider([RateLimitError(retry_after=30.0), "never reached"])
    with pytest.raises(DeadlineExceededError) as caught:
        make_client(provider, fake_time, deadline_s=10.0).call(REQ)
    assert fake_time.sleeps == []
    assert caught.value.attempts == 1
    assert provider.call_count == 1


def test_no_attempt_is_given_a_timeout_that_outlives_the_deadline(fake_time: FakeTime) -> None:
    started: list[float] = []

    def reply(req: LLMRequest) -> str:
        started.append(fake_time.elapsed())
        fake_time.now += 3.0
        raise LLMTimeoutError("slow")

    provider = FakeProvider(default=reply)
    client = make_client(provider, fake_time, max_retries=10, timeout_s=10.0, deadline_s=12.0)
    with pytest.raises(RetriesExhaustedError):
        client.call(REQ)
    timeouts = [call.timeout_s for call in provider.calls]
    assert timeouts[0] == 10.0
    assert len(timeouts) >= 2
    assert all(0 < t <= 12.0 - at + 1e-9 for t, at in zip(timeouts, started, strict=True))
    assert timeouts[-1] < 10.0


def test_a_call_that_succeeds_within_the_deadline_is_unaffected(fake_time: FakeTime) -> None:
    provider = FakeProvider([ServerError("503"), "ok"])
    assert make_client(provider, fake_time, deadline_s=60.0).call(REQ) == "ok"


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"provider": object()}, TypeError, "provider"),
        ({"cache": {}}, TypeError, "cache"),
        ({"rng": 42}, TypeError, "rng"),
        ({"sleep": 0}, TypeError, "sleep"),
        ({"clock": "now"}, TypeError, "clock"),
        ({"key_fn": None}, TypeError, "key_fn"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"timeout_s": 0}, ValueError, "timeout_s"),
        ({"deadline_s": -5.0}, ValueError, "deadline_s"),
        ({"max_retry_after_s": -1.0}, ValueError, "max_retry_after_s"),
    ],
)
def test_the_client_rejects_bad_arguments_naming_them(options: dict[str, Any], error: type, name: str) -> None:
    arguments: dict[str, Any] = {"provider": FakeProvider(), **options}
    with pytest.raises(error, match=name):
        LLMClient(**arguments)


@pytest.mark.parametrize(
    ("req", "options", "error", "name"),
    [
        ("Name the capital of France.", {}, TypeError, "req"),
        (REQ, {"timeout_s": 0.0}, ValueError, "timeout_s"),
        (REQ, {"timeout_s": -1}, ValueError, "timeout_s"),
        (REQ, {"max_retries": -1}, ValueError, "max_retries"),
        (REQ, {"max_retries": 1.5}, TypeError, "max_retries"),
    ],
)
def test_a_bad_call_is_refused_before_the_provider_is_asked(
    req: Any, options: dict[str, Any], error: type, name: str, fake_time: FakeTime
) -> None:
    provider = FakeProvider()
    with pytest.raises(error, match=name):
        make_client(provider, fake_time).call(req, **options)
    assert provider.call_count == 0


def test_closing_the_client_closes_the_http_client_its_provider_made() -> None:
    provider = OpenAIProvider(api_key="sk-test")
    with LLMClient(provider) as client:
        assert isinstance(client, LLMClient)
        assert not provider._http.is_closed
    assert provider._http.is_closed
    LLMClient(FakeProvider()).close()  # a provider without close() is fine


def test_a_retry_decision_that_never_gives_up_ends_with_an_error_that_says_what_it_must_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llm_client.client

    monkeypatch.setattr(llm_client.client, "after_failure", lambda call, error, attempt: 0.0)
    provider = FakeProvider([ServerError("down", status_code=503)] * 3)
    with pytest.raises(AssertionError, match=r"after_failure returned a wait after the last one \(attempt 2"):
        make_client(provider, max_retries=2).call(LLMRequest(model="m", prompt="p"))
    assert len(provider.calls) == 3
