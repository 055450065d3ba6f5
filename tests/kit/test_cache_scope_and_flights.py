"""Who answered is part of the cache key, and identical calls in flight share one trip.

A cache shared by two providers, two base URLs or two namespaces never hands
one of them the other's answer; ``make_cache_key(req)`` stays the request's
own key and the client adds the scope. Identical calls in flight at once
(threads or tasks) reach the provider once and share its answer or its error.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from provider_payloads import anthropic_message, openai_completion

import llm_client._internal.flights as flights_module
from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    FakeProvider,
    LLMClient,
    LLMRequest,
    LLMResponse,
    MemoryCache,
    OpenAIProvider,
    SQLiteCache,
    make_cache_key,
)
from llm_client.errors import InvalidRequestError, LLMError

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="Which server answers?")
KEY = "sk-kit-scope-0123456789abcdef"


def _openai(base_url: str, text: str, seen: list[str]) -> OpenAIProvider:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(text)
        return httpx.Response(200, json=openai_completion(text))

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return OpenAIProvider(api_key=KEY, base_url=base_url, http_client=http)


def test_two_base_urls_sharing_one_cache_never_get_each_others_answers() -> None:
    cache, seen = MemoryCache(), []
    first = LLMClient(_openai("http://127.0.0.1:8001/v1", "from the first", seen), cache=cache)
    second = LLMClient(_openai("http://127.0.0.1:8002/v1", "from the second", seen), cache=cache)
    assert first.call(REQ) == "from the first"
    assert second.call(REQ) == "from the second"
    assert first.call(REQ) == "from the first" and second.call(REQ) == "from the second"
    assert seen == ["from the first", "from the second"], "each server asked once, then its own answer cached"


def test_two_providers_sharing_one_cache_never_get_each_others_answers(tmp_path: Any) -> None:
    cache = SQLiteCache(tmp_path / "shared.sqlite")

    def anthropic_answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=anthropic_message("from anthropic"))

    anthropic = AnthropicProvider(
        api_key=KEY, http_client=httpx.Client(transport=httpx.MockTransport(anthropic_answer))
    )
    openai = _openai("https://api.openai.com/v1", "from openai", [])
    assert LLMClient(openai, cache=cache).call(REQ) == "from openai"
    assert LLMClient(anthropic, cache=cache).call(REQ) == "from anthropic"
    assert len(cache) == 2


def test_a_namespace_separates_answers_and_the_same_namespace_shares_them() -> None:
    cache, seen = MemoryCache(), []
    provider = _openai("http://127.0.0.1:8001/v1", "v1 answer", seen)
    assert LLMClient(provider, cache=cache, cache_namespace="prompt-v1").call(REQ) == "v1 answer"
    assert LLMClient(provider, cache=cache, cache_namespace="prompt-v1").call(REQ) == "v1 answer"
    LLMClient(provider, cache=cache, cache_namespace="prompt-v2").call(REQ)
    assert len(seen) == 2 and len(cache) == 2


def test_the_scope_keeps_base_url_credentials_out_of_the_cache_and_the_request_key_is_ex2s(tmp_path: Any) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    provider = _openai("http://user:hunter2-secret@127.0.0.1:8001/v1", "hi", [])
    LLMClient(provider, cache=cache).call(REQ)
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())  # the file, its -wal and -shm
    assert b"hunter2-secret" not in raw and b"127.0.0.1" not in raw
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        (stored,) = [row[0] for row in conn.execute("SELECT key FROM llm_cache")]
    assert stored.endswith(":" + make_cache_key(REQ)), "the request's own key, with the scope before it"


def test_an_offline_provider_without_a_namespace_keys_by_the_request_alone() -> None:
    cache = MemoryCache()
    LLMClient(FakeProvider(["hi"]), cache=cache).call(REQ)
    assert cache.get(make_cache_key(REQ)) == "hi"


def test_a_namespace_must_be_text() -> None:
    with pytest.raises(TypeError, match="cache_namespace"):
        LLMClient(FakeProvider(), cache_namespace=7)  # type: ignore[arg-type]


# -- one flight per request ---------------------------------------------------------------------


@pytest.fixture
def counted_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Condition]:
    """Count the threads waiting for a flight (condition.waiting), so a test knows when all have joined."""
    condition = threading.Condition()
    condition.waiting = 0  # type: ignore[attr-defined]

    class CountingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            with condition:
                condition.waiting += 1  # type: ignore[attr-defined]
                condition.notify_all()
            return super().wait(timeout)

    class Flight(flights_module._Flight):  # type: ignore[type-arg]
        def __init__(self) -> None:
            super().__init__()
            self.landed = CountingEvent()

    monkeypatch.setattr(flights_module, "_Flight", Flight)
    yield condition


def test_sixteen_threads_asking_forty_prompts_pay_for_forty_calls(counted_waits: threading.Condition) -> None:
    prompts = [f"prompt {i}" for i in range(40)]
    calls: dict[str, int] = {}

    class Gated:
        """Holds each prompt's call until the fifteen other threads wait for it (at most 2 s)."""

        name = "gated"

        def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            index = prompts.index(req.prompt)
            with counted_waits:
                calls[req.prompt] = calls.get(req.prompt, 0) + 1
                counted_waits.wait_for(lambda: counted_waits.waiting >= 15 * (index + 1), timeout=2)  # type: ignore[attr-defined]
            return LLMResponse(text=f"answer to {req.prompt}", model=req.model, finish_reason="stop")

    client = LLMClient(Gated(), cache=MemoryCache())
    failures: list[BaseException] = []

    def ask() -> None:
        for prompt in prompts:
            try:
                assert client.call(LLMRequest(model="m", prompt=prompt)) == f"answer to {prompt}"
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert calls == {prompt: 1 for prompt in prompts}


def test_identical_calls_in_flight_from_threads_share_one_error(counted_waits: threading.Condition) -> None:
    gate = threading.Event()
    error = InvalidRequestError("bad request", status_code=400)
    calls: list[LLMRequest] = []

    class Gated:
        name = "gated"

        def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            calls.append(req)
            gate.wait(timeout=10)
            raise error

    client = LLMClient(Gated())
    raised: list[BaseException] = []

    def ask() -> None:
        try:
            client.call(REQ)
        except LLMError as exc:
            raised.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    with counted_waits:
        assert counted_waits.wait_for(lambda: counted_waits.waiting == 7, timeout=10)  # type: ignore[attr-defined]
    gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 1
    assert len(raised) == 8 and all(exc is error for exc in raised)


def test_identical_calls_in_flight_from_tasks_share_one_answer_and_different_ones_do_not() -> None:
    calls: list[str] = []

    class Gated:
        name = "gated"

        def __init__(self) -> None:
            self.gate = asyncio.Event()

        async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            calls.append(req.prompt)
            await self.gate.wait()
            return LLMResponse(text=f"answer to {req.prompt}", model=req.model)

    async def scenario() -> list[str]:
        provider = Gated()
        client = AsyncLLMClient(provider)
        other = LLMRequest(model="m", prompt="another question")
        tasks = [asyncio.create_task(client.call(REQ)) for _ in range(10)] + [asyncio.create_task(client.call(other))]
        for _ in range(5):
            await asyncio.sleep(0)  # let every task reach its wait (no time passes)
        provider.gate.set()
        return await asyncio.gather(*tasks)

    answers = asyncio.run(scenario())
    assert answers == [f"answer to {REQ.prompt}"] * 10 + ["answer to another question"]
    assert sorted(calls) == sorted([REQ.prompt, "another question"])


def test_a_waiting_task_is_not_failed_by_its_leaders_cancellation() -> None:
    async def scenario() -> str:
        started = asyncio.Event()
        gate = asyncio.Event()

        class Slow:
            name = "slow"
            calls = 0

            async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
                Slow.calls += 1
                started.set()
                if Slow.calls == 1:
                    await asyncio.Event().wait()  # the first call hangs until cancelled
                await gate.wait()
                return LLMResponse(text="second flight", model=req.model)

        client = AsyncLLMClient(Slow())
        leader = asyncio.create_task(client.call(REQ))
        await started.wait()
        follower = asyncio.create_task(client.call(REQ))
        await asyncio.sleep(0)
        leader.cancel()
        gate.set()
        return await follower

    assert asyncio.run(scenario()) == "second flight"
