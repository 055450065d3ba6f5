"""call_response(): the whole answer (text, usage, finish reason, the provider's request id, from_cache), sync and
async; call() still returns the text alone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from llm_client import AsyncLLMClient, LLMClient, LLMRequest, LLMResponse, MemoryCache, OpenAIProvider

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-test", prompt="Name the capital of France.")
BODY = {
    "model": "gpt-test-2026",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
}
URL = "https://api.openai.com/v1/chat/completions"


def _client(http: httpx.Client) -> LLMClient:
    provider = OpenAIProvider(api_key="sk-test", http_client=http)
    return LLMClient(provider, cache=MemoryCache(), key_fn=lambda r: r.prompt, sleep=lambda s: None)


def test_the_first_answer_carries_usage_finish_reason_and_request_id_and_the_next_comes_from_the_cache() -> None:
    with respx.mock() as router, httpx.Client() as http:
        route = router.post(URL).respond(200, json=BODY, headers={"x-request-id": "req_abc"})
        client = _client(http)
        first = client.call_response(REQ)
        again = client.call_response(REQ)
        fresh = client.call_response(REQ, use_cache=False)
    assert type(first) is LLMResponse
    assert (first.text, first.finish_reason, first.request_id, first.from_cache) == ("Paris.", "stop", "req_abc", False)
    assert first.usage == {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}
    assert (again.text, again.from_cache) == ("Paris.", True)
    assert (fresh.from_cache, fresh.request_id) == (False, "req_abc")
    assert route.call_count == 2


def test_call_still_returns_only_the_text() -> None:
    with respx.mock() as router, httpx.Client() as http:
        router.post(URL).respond(200, json=BODY)
        assert _client(http).call(REQ) == "Paris."


def test_the_async_client_answers_the_same() -> None:
    async def main() -> tuple[LLMResponse, LLMResponse]:
        provider = OpenAIProvider(api_key="sk-test")
        client = AsyncLLMClient(provider, cache=MemoryCache(), key_fn=lambda r: r.prompt)
        try:
            return await client.call_response(REQ), await client.call_response(REQ)
        finally:
            await client.aclose()

    with respx.mock() as router:
        router.post(URL).respond(200, json=BODY, headers={"x-request-id": "req_async"})
        first, again = asyncio.run(main())
    assert (first.text, first.request_id, first.from_cache, first.usage["total_tokens"]) == (
        "Paris.", "req_async", False, 14
    )
    assert (again.text, again.from_cache) == ("Paris.", True)


def test_the_log_line_of_a_failed_attempt_carries_the_providers_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="llm_client")
    with respx.mock() as router, httpx.Client() as http:
        router.post(URL).mock(
            side_effect=[
                httpx.Response(503, json={"error": {"message": "busy"}}, headers={"x-request-id": "req_503"}),
                httpx.Response(200, json=BODY, headers={"x-request-id": "req_ok"}),
            ]
        )
        provider = OpenAIProvider(api_key="sk-test", http_client=http)
        client = LLMClient(provider, key_fn=lambda r: r.prompt, sleep=lambda s: None, waits=lambda e, a: 0.0)
        assert client.call_response(REQ).request_id == "req_ok"
    failed = [r for r in caplog.records if getattr(r, "event", None) == "llm.attempt_failed"]
    scheduled = [r for r in caplog.records if getattr(r, "event", None) == "llm.retry_scheduled"]
    assert [getattr(r, "provider_request_id", None) for r in failed + scheduled] == ["req_503", "req_503"]
    assert "provider_request_id=req_503" in failed[0].getMessage()
