"""A call on a closed client or provider raises ClientClosedError at once, sync and async, and nothing is sent."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    ClientClosedError,
    ConfigurationError,
    FakeProvider,
    LLMClient,
    LLMError,
    LLMRequest,
    OpenAIProvider,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="p")
BODY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}


def test_client_closed_error_is_a_configuration_error_that_is_never_retried() -> None:
    assert issubclass(ClientClosedError, ConfigurationError) and issubclass(ClientClosedError, LLMError)
    assert ClientClosedError("x").retryable is False


def test_a_closed_client_refuses_a_call_before_asking_the_provider_or_sleeping() -> None:
    provider = FakeProvider(["hi"])
    slept: list[float] = []
    client = LLMClient(provider, sleep=slept.append, key_fn=lambda r: r.prompt)
    client.close()
    with pytest.raises(ClientClosedError, match="closed"):
        client.call(REQ)
    with pytest.raises(ClientClosedError):
        client.call_structured(REQ, dict)  # type: ignore[type-var]  # refused before the schema is looked at
    assert provider.call_count == 0 and slept == []


def test_a_closed_async_client_refuses_a_call_at_once() -> None:
    provider = FakeProvider(["hi"])

    async def main() -> None:
        client = AsyncLLMClient(provider, key_fn=lambda r: r.prompt)
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await client.call(REQ)

    asyncio.run(main())
    assert provider.call_count == 0


@pytest.mark.parametrize("cls", [OpenAIProvider, AnthropicProvider])
def test_a_closed_provider_sends_nothing_sync_or_async(cls: type) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route().respond(200, json=BODY)
        provider = cls(api_key="sk-test")
        provider.close()
        with pytest.raises(ClientClosedError):
            provider.complete(REQ, timeout_s=5.0)

        async def main() -> None:
            with pytest.raises(ClientClosedError):
                await provider.acomplete(REQ, timeout_s=5.0)
            await provider.aclose()
            with pytest.raises(ClientClosedError):
                await provider.acomplete(REQ, timeout_s=5.0)

        asyncio.run(main())
    assert route.call_count == 0


def test_a_callers_httpx_client_closed_under_the_provider_is_an_llm_error_not_httpxs_runtime_error() -> None:
    http = httpx.Client()
    provider = OpenAIProvider(api_key="sk-test", http_client=http)
    http.close()
    client = LLMClient(provider, sleep=lambda s: None, key_fn=lambda r: r.prompt)
    with pytest.raises(ClientClosedError):
        client.call(REQ)
