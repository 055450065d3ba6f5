"""The batch runners (llm_client/_internal/batch.py): run_batch with threads, arun_batch with tasks, one set of cases.

The fixture ``batch`` has two params: ``sync`` runs ``run_batch`` over an
LLMClient, ``async`` runs ``arun_batch`` over an AsyncLLMClient. Clients and
limiters sleep on fakes; where requests must be in flight together, they meet
at a barrier instead of sleeping.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from llm_client import (
    AsyncLLMClient,
    FakeProvider,
    InvalidRequestError,
    LLMClient,
    LLMRequest,
    LLMResponse,
    RateLimiter,
    RetriesExhaustedError,
    ServerError,
    arun_batch,
    estimate_tokens,
    run_batch,
)
from llm_client._internal.batch import BatchResult

pytestmark = pytest.mark.kit

REQUESTS = [LLMRequest(model="m", prompt=f"question {n}") for n in range(12)]


def no_sleep(seconds: float) -> None:
    pass


async def no_async_sleep(seconds: float) -> None:
    pass


RunBatch = Callable[..., list[BatchResult]]


@pytest.fixture(params=["sync", "async"])
def batch(request: pytest.FixtureRequest) -> RunBatch:
    """``batch(provider, requests, **options)``: the mode's runner over a client of the mode, on fake sleeps."""

    def run(provider: Any, requests: list[LLMRequest], **options: Any) -> list[BatchResult]:
        options.setdefault("progress", False)
        client_options = options.pop("client_options", {})
        if request.param == "sync":
            return run_batch(LLMClient(provider, sleep=no_sleep, **client_options), requests, **options)
        client = AsyncLLMClient(provider, sleep=no_async_sleep, **client_options)
        return asyncio.run(arun_batch(client, requests, **options))

    run.mode = request.param  # type: ignore[attr-defined]
    return run


def by_prompt(replies: dict[str, Any]) -> Callable[[LLMRequest], str]:
    """A FakeProvider default that answers (or raises) per prompt, whatever order the calls come in."""

    def reply(req: LLMRequest) -> str:
        outcome = replies.get(req.prompt, f"answer to {req.prompt}")
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    return reply


class Meeting:
    """A provider whose calls wait until ``size`` of them are in flight together, counting the most at once."""

    name = "meeting"

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_flight = 0
        self.most = 0
        self._lock = threading.Lock()
        self._threads = threading.Barrier(size, timeout=10)
        self._tasks: asyncio.Barrier | None = None

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        self._enter()
        try:
            self._threads.wait()
        finally:
            self._leave()
        return LLMResponse(text=req.prompt, model=req.model)

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        if self._tasks is None:
            self._tasks = asyncio.Barrier(self.size)
        self._enter()
        try:
            await asyncio.wait_for(self._tasks.wait(), timeout=10)
        finally:
            self._leave()
        return LLMResponse(text=req.prompt, model=req.model)


# -- results --------------------------------------------------------------------------------


def test_results_come_back_in_request_order_with_each_failure_in_its_place(batch: RunBatch) -> None:
    bad = InvalidRequestError("400: bad request", status_code=400)
    provider = FakeProvider(default=by_prompt({"question 3": bad, "question 7": ServerError("503")}))
    results = batch(provider, REQUESTS, concurrency=4, client_options={"max_retries": 1})
    assert len(results) == len(REQUESTS)
    for n, result in enumerate(results):
        if n == 3:
            assert result is bad
        elif n == 7:
            assert isinstance(result, RetriesExhaustedError) and result.attempts == 2
        else:
            assert result == f"answer to question {n}"


def test_an_empty_batch_returns_an_empty_list(batch: RunBatch) -> None:
    assert batch(FakeProvider(), []) == []


def test_a_programming_error_propagates_unchanged(batch: RunBatch) -> None:
    bug = TypeError("a bug in a reply")
    provider = FakeProvider(default=by_prompt({"question 2": bug}))
    with pytest.raises(TypeError) as caught:
        batch(provider, REQUESTS, concurrency=1)
    assert caught.value is bug
    assert provider.call_count == 3, "with one worker, nothing after the failing request is started"


def test_requests_go_through_the_clients_cache(batch: RunBatch) -> None:
    from llm_client import MemoryCache

    cache = MemoryCache()
    provider = FakeProvider()
    first = batch(provider, REQUESTS, client_options={"cache": cache})
    again = batch(provider, REQUESTS, client_options={"cache": cache})
    assert first == again and provider.call_count == len(REQUESTS)


# -- concurrency --------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_at_most_concurrency_requests_are_in_flight_and_that_many_are(batch: RunBatch, concurrency: int) -> None:
    provider = Meeting(concurrency)
    results = batch(provider, REQUESTS, concurrency=concurrency)
    assert results == [req.prompt for req in REQUESTS]
    assert provider.most == concurrency


# -- the limiter --------------------------------------------------------------------------------


def test_with_a_limiter_every_request_waits_its_turn(batch: RunBatch) -> None:
    slept: list[float] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(10, clock=lambda: 0.0, sleep=slept.append, async_sleep=async_sleep)
    batch(FakeProvider(), REQUESTS[:5], concurrency=3, limiter=limiter)
    assert sorted(round(s, 9) for s in slept) == [0.1, 0.2, 0.3, 0.4]


def test_with_a_limiter_retries_wait_their_turn_too(batch: RunBatch) -> None:
    slept: list[float] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(10, clock=lambda: 0.0, sleep=slept.append, async_sleep=async_sleep)
    provider = FakeProvider([ServerError("503"), "first", "second"])
    results = batch(provider, REQUESTS[:2], concurrency=1, limiter=limiter)
    assert results == ["first", "second"]
    assert [round(s, 9) for s in slept] == [0.1, 0.2], "three attempts, three turns: the retry queued like a request"


def test_a_limiter_leaves_the_clients_own_provider_unchanged() -> None:
    provider = FakeProvider()
    client = LLMClient(provider)
    run_batch(client, REQUESTS[:2], limiter=RateLimiter(1000), progress=False)
    assert client.provider is provider and provider.call_count == 2


def test_the_limiter_is_given_each_requests_token_estimate(batch: RunBatch) -> None:
    seen: list[int] = []

    class Recording(RateLimiter):
        def reserve(self, tokens: int = 0) -> float:
            seen.append(tokens)
            return 0.0

    requests = [LLMRequest(model="m", prompt="x" * (40 * n + 1), max_tokens=10) for n in range(3)]
    batch(FakeProvider(), requests, concurrency=1, limiter=Recording(5, tokens_per_minute=10_000))
    batch(FakeProvider(), requests, concurrency=1, limiter=Recording(5))
    assert seen == [estimate_tokens(req) for req in requests] * 2, "a limiter without a token limit ignores them"


# -- the progress bar ---------------------------------------------------------------------------


def test_the_progress_bar_counts_requests_and_failures(batch: RunBatch, capsys: pytest.CaptureFixture[str]) -> None:
    provider = FakeProvider(default=by_prompt({"question 1": InvalidRequestError("400")}))
    batch(provider, REQUESTS[:4], progress=True)
    shown = capsys.readouterr().err
    assert "4/4" in shown and "failed=1" in shown


def test_no_progress_bar_prints_nothing(batch: RunBatch, capsys: pytest.CaptureFixture[str]) -> None:
    batch(FakeProvider(), REQUESTS[:4], progress=False)
    assert capsys.readouterr() == ("", "")


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "options", "error", "names"),
    [
        ([REQUESTS[0], "question 1"], {}, TypeError, r"requests\[1\]"),
        ("question", {}, TypeError, "requests"),
        (REQUESTS, {"concurrency": 0}, ValueError, "concurrency"),
        (REQUESTS, {"concurrency": 2.0}, TypeError, "concurrency"),
        (REQUESTS, {"limiter": 50}, TypeError, "limiter"),
        (REQUESTS, {"progress": "no"}, TypeError, "progress"),
    ],
)
def test_bad_arguments_are_refused_naming_them_before_any_request(
    batch: RunBatch, requests: Any, options: dict[str, Any], error: type[Exception], names: str
) -> None:
    provider = FakeProvider()
    with pytest.raises(error, match=names):
        batch(provider, requests, **options)
    assert provider.call_count == 0


def test_each_runner_refuses_the_other_kind_of_client() -> None:
    with pytest.raises(TypeError, match="arun_batch"):
        run_batch(AsyncLLMClient(FakeProvider()), REQUESTS)
    with pytest.raises(TypeError, match="run_batch"):
        asyncio.run(arun_batch(LLMClient(FakeProvider()), REQUESTS))


def test_cancelling_an_async_batch_cancels_every_request_in_flight() -> None:
    started: list[int] = []
    cancelled: list[int] = []

    class Hangs:
        name = "hangs"

        async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            started.append(1)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(1)
                raise
            raise AssertionError("never woken")

    async def cancel_it() -> None:
        task = asyncio.create_task(arun_batch(AsyncLLMClient(Hangs()), REQUESTS, concurrency=5, progress=False))
        while len(started) < 5:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    assert len(started) == len(cancelled) == 5
