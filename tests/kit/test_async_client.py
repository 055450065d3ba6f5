"""The async path: the providers' acomplete matches complete, and what only AsyncLLMClient has.

The client's behaviour (retries, sleeps, deadline, cache, structured mode) is
tested once for both clients in test_client_behaviour.py. Here: the same HTTP
request and the same error for every outcome on both paths (httpx.MockTransport
on an httpx.Client and on an httpx.AsyncClient), the event-loop plumbing, and
that the learner package's async path runs through the exercise stubs.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_payloads import (
    ANTHROPIC_BASE_URL,
    OPENAI_BASE_URL,
    SENTINEL_KEY,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
)

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    AsyncProvider,
    ConfigurationError,
    FakeProvider,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMResponse,
    LLMTimeoutError,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    Provider,
    ServerError,
)
from llm_client._internal.async_http import AsyncHTTP

pytestmark = pytest.mark.kit

ROOT = Path(__file__).resolve().parents[2]
REQ = LLMRequest(
    model="test-model",
    prompt="Name the capital of France.",
    system_prompt="Answer in one sentence.",
    max_tokens=50,
    stop=("\n\n",),
)

Handler = Callable[[httpx.Request], httpx.Response]


def make_provider(kind: str, handler: Handler, *, sync: bool) -> OpenAIProvider | AnthropicProvider:
    transport = httpx.MockTransport(handler)
    clients: dict[str, Any] = (
        {"http_client": httpx.Client(transport=transport)}
        if sync
        else {"async_http_client": httpx.AsyncClient(transport=transport)}
    )
    if kind == "openai":
        return OpenAIProvider(api_key=SENTINEL_KEY, base_url=OPENAI_BASE_URL, **clients)
    return AnthropicProvider(api_key=SENTINEL_KEY, base_url=ANTHROPIC_BASE_URL, **clients)


def one_attempt(kind: str, handler: Handler, *, sync: bool, timeout_s: float = 7.0) -> LLMResponse:
    provider = make_provider(kind, handler, sync=sync)
    if sync:
        return provider.complete(REQ, timeout_s=timeout_s)
    return asyncio.run(provider.acomplete(REQ, timeout_s=timeout_s))


def outcome(kind: str, handler: Handler, *, sync: bool) -> LLMResponse | LLMError:
    try:
        return one_attempt(kind, handler, sync=sync)
    except LLMError as exc:
        return exc


def success_body(kind: str) -> dict[str, Any]:
    return openai_completion() if kind == "openai" else anthropic_message()


def error_body(kind: str, status: int) -> dict[str, Any]:
    return openai_error(status) if kind == "openai" else anthropic_error(status)


def describe(result: LLMResponse | LLMError) -> dict[str, Any]:
    """What an outcome says, in a form two outcomes can be compared by."""
    if isinstance(result, LLMResponse):
        return {"response": result}
    return {
        "type": type(result),
        "message": str(result),
        "status_code": getattr(result, "status_code", None),
        "provider_message": getattr(result, "provider_message", None),
        "retry_after": getattr(result, "retry_after", None),
        "cause": type(result.__cause__),
    }


# -- the providers: one request, one mapping, one parser ---------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_acomplete_sends_the_same_request_as_complete_and_parses_the_same_answer(kind: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=success_body(kind))

    sync_answer = one_attempt(kind, handler, sync=True)
    async_answer = one_attempt(kind, handler, sync=False)
    assert async_answer == sync_answer
    assert async_answer.text == "Paris is the capital of France."
    sync_sent, async_sent = sent
    assert (async_sent.method, async_sent.url) == (sync_sent.method, sync_sent.url)
    assert json.loads(async_sent.content) == json.loads(sync_sent.content)
    assert dict(async_sent.headers) == dict(sync_sent.headers)
    assert async_sent.extensions["timeout"] == sync_sent.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), 7.0
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_every_error_status_maps_to_the_same_error_on_both_paths(kind: str, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"retry-after-ms": "1500", "retry-after": "2"} if status == 429 else {}
        return httpx.Response(status, json=error_body(kind, status), headers=headers)

    sync_error = outcome(kind, handler, sync=True)
    async_error = outcome(kind, handler, sync=False)
    assert isinstance(async_error, LLMError)
    assert describe(async_error) == describe(sync_error)
    assert async_error.status_code == status  # type: ignore[attr-defined]
    if status == 429:
        assert async_error.retry_after == 1.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make_exc", "expected"),
    [
        (lambda req: httpx.ConnectError("connection refused", request=req), LLMConnectionError),
        (lambda req: httpx.ReadTimeout("timed out", request=req), LLMTimeoutError),
        (lambda req: httpx.RemoteProtocolError("peer closed", request=req), LLMConnectionError),
    ],
)
def test_transport_failures_map_to_the_same_error_chained_to_the_httpx_one(
    make_exc: Callable[[httpx.Request], httpx.HTTPError], expected: type[LLMError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise make_exc(request)

    sync_error = outcome("openai", handler, sync=True)
    async_error = outcome("openai", handler, sync=False)
    assert isinstance(async_error, expected)
    assert isinstance(async_error.__cause__, httpx.HTTPError)
    assert describe(async_error) == describe(sync_error)


def test_a_2xx_that_is_not_an_answer_is_malformed_on_the_async_path_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>gateway</html>")

    assert isinstance(outcome("openai", handler, sync=False), MalformedResponseError)


def test_a_missing_key_raises_configuration_error_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=openai_completion())

    transport = httpx.MockTransport(handler)
    provider = OpenAIProvider(base_url=OPENAI_BASE_URL, async_http_client=httpx.AsyncClient(transport=transport))
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        asyncio.run(provider.acomplete(REQ, timeout_s=5.0))
    assert sent == []


def test_acomplete_refuses_a_bad_timeout_naming_it() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        asyncio.run(FakeProvider().acomplete(REQ, timeout_s=0))


def test_the_providers_are_both_kinds_of_provider() -> None:
    for provider in (OpenAIProvider(api_key="k"), AnthropicProvider(api_key="k"), FakeProvider()):
        assert isinstance(provider, Provider) and isinstance(provider, AsyncProvider)


def test_the_async_http_client_must_be_an_httpx_async_client() -> None:
    with pytest.raises(TypeError, match="async_http_client"):
        OpenAIProvider(api_key="k", async_http_client=httpx.Client())  # type: ignore[arg-type]


def test_the_providers_own_async_client_is_one_per_event_loop_and_aclose_closes_it() -> None:
    http = AsyncHTTP()

    async def use() -> tuple[httpx.AsyncClient, bool, bool]:
        client = http.client()
        same = http.client() is client
        await http.aclose()
        return client, same, client.is_closed

    first, first_same, first_closed = asyncio.run(use())
    second, _, _ = asyncio.run(use())
    assert first_same and first_closed
    assert second is not first, "a new event loop gets a new client, not a pool tied to a closed loop"


def test_a_given_async_client_is_used_everywhere_and_left_open() -> None:
    given = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    http = AsyncHTTP(given)

    async def use() -> httpx.AsyncClient:
        client = http.client()
        await http.aclose()
        return client

    assert asyncio.run(use()) is given and asyncio.run(use()) is given
    assert not given.is_closed


# -- AsyncLLMClient -----------------------------------------------------------------------------


def test_the_async_client_needs_a_provider_with_acomplete() -> None:
    class SyncOnly:
        name = "sync-only"

        def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            return LLMResponse(text="x", model=req.model)

    with pytest.raises(TypeError, match="acomplete"):
        AsyncLLMClient(SyncOnly())  # type: ignore[arg-type]


def test_the_async_client_refuses_a_blocking_sleep() -> None:
    with pytest.raises(TypeError, match=r"asyncio\.sleep"):
        AsyncLLMClient(FakeProvider(), sleep=time.sleep)  # type: ignore[arg-type]


def test_a_sleep_that_returns_no_awaitable_is_reported_at_the_first_retry() -> None:
    slept: list[float] = []
    client = AsyncLLMClient(FakeProvider([ServerError("503"), "ok"]), sleep=slept.append)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="awaitable"):
        asyncio.run(client.call(REQ))


def test_the_async_client_repr_names_it_and_shows_no_key() -> None:
    client = AsyncLLMClient(OpenAIProvider(api_key=SENTINEL_KEY), cache=MemoryCache())
    assert repr(client).startswith("AsyncLLMClient(provider=OpenAIProvider(")
    assert SENTINEL_KEY not in repr(client)


def test_async_with_closes_what_the_provider_opened() -> None:
    closed: list[bool] = []

    class ClosingFake(FakeProvider):
        async def aclose(self) -> None:
            closed.append(True)

    async def use() -> str:
        async with AsyncLLMClient(ClosingFake(["ok"])) as client:
            return await client.call(REQ)

    assert asyncio.run(use()) == "ok"
    assert closed == [True]


def test_concurrent_calls_on_one_client_each_get_their_own_answer() -> None:
    class Echo:
        name = "echo"

        async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            await asyncio.sleep(0)  # let the other calls start
            return LLMResponse(text=req.prompt.upper(), model=req.model)

    client = AsyncLLMClient(Echo(), cache=MemoryCache())
    prompts = [f"question {n}" for n in range(20)]

    async def ask_all() -> list[str]:
        return await asyncio.gather(*(client.call(LLMRequest(model="m", prompt=p)) for p in prompts))

    assert asyncio.run(ask_all()) == [p.upper() for p in prompts]


def test_cancelling_a_call_cancels_it_and_caches_nothing() -> None:
    cache = MemoryCache()

    class Hangs:
        name = "hangs"

        async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            await asyncio.Event().wait()
            raise AssertionError("never woken")

    async def cancel_it() -> None:
        task = asyncio.create_task(AsyncLLMClient(Hangs(), cache=cache).call(REQ))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    assert len(cache) == 0


# -- the learner package: the async path runs through the exercise stubs -----------------------


LEARNER_PROBE = textwrap.dedent(
    """
    import asyncio, httpx, pydantic
    from llm_client import AsyncLLMClient, FakeProvider, LLMRequest, OpenAIProvider

    class City(pydantic.BaseModel):
        name: str

    req = LLMRequest(model="m", prompt="p")

    def report(label, coro):
        try:
            print(label, "returned", asyncio.run(coro))
        except NotImplementedError as exc:
            print(label, "NotImplementedError", str(exc).split(":")[0])

    client = AsyncLLMClient(FakeProvider(['{"name": "Paris"}']))
    report("structured", client.call_structured(req, City))

    def handler(request):
        if b'"prompt429"' in request.content:
            return httpx.Response(429, json={"error": {"message": "slow down"}})
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})

    provider = OpenAIProvider(api_key="k", async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    report("ok", provider.acomplete(req, timeout_s=5))
    report("429", provider.acomplete(LLMRequest(model="m", prompt="prompt429"), timeout_s=5))
    """
)


def test_in_the_learner_package_the_async_path_needs_the_exercises_not_a_copy_of_them(tmp_path: Path) -> None:
    generator = importlib.import_module("tools.generate_learner")
    generator.generate_package(tmp_path / "llm_client", keep=())
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LEARNER_PROBE], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "structured NotImplementedError ex5",
        "ok NotImplementedError ex6",
        "429 NotImplementedError ex6",
    ]
