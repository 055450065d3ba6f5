"""The providers' own semantics, replayed from their recorded bodies and headers.

Each row is a response as OpenAI or Anthropic sends it (tests/kit/provider_payloads.py),
driven through the real provider on a mocked transport and through LLMClient with an
injected sleep, so a test proves both the error and what the client does with it.
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from provider_payloads import (
    ANTHROPIC_OVERLOADED,
    ENDPOINTS,
    QUOTA_429S,
    RATE_LIMIT_429S,
    anthropic_message,
    error_body,
    openai_completion,
)

from llm_client import AnthropicProvider, LLMClient, LLMRequest, MemoryCache, OpenAIProvider
from llm_client.errors import (
    ContentRefusedError,
    InvalidRequestError,
    QuotaExceededError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    TruncatedAnswerWarning,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="Name a prime.")
KEY = "sk-kit-tables-0123456789abcdef"


class Server:
    """A mocked provider endpoint answering from a list; counts the requests."""

    def __init__(self, provider: str, responses: list[httpx.Response]) -> None:
        self.responses = list(responses)
        self.requests = 0
        base_url, _ = ENDPOINTS[provider]
        transport = httpx.MockTransport(self.answer)
        self.http = httpx.Client(transport=transport)
        self.provider: OpenAIProvider | AnthropicProvider = (
            OpenAIProvider(api_key=KEY, base_url=base_url, http_client=self.http)
            if provider == "openai"
            else AnthropicProvider(api_key=KEY, base_url=base_url, http_client=self.http)
        )

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

    def client(self, **settings: Any) -> tuple[LLMClient, list[float]]:
        sleeps: list[float] = []
        return LLMClient(self.provider, sleep=sleeps.append, **settings), sleeps


def _raised(server: Server, **settings: Any) -> tuple[BaseException, list[float]]:
    client, sleeps = server.client(**settings)
    with pytest.raises(Exception) as caught:
        client.call(REQ)
    return caught.value, sleeps


# -- 429s ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "what", "headers", "body"), QUOTA_429S, ids=[row[1] for row in QUOTA_429S])
def test_a_429_that_waiting_cannot_cure_is_a_quota_error_tried_once_with_the_providers_message(
    provider: str, what: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    server = Server(provider, [httpx.Response(429, headers=headers, json=body)])
    error, sleeps = _raised(server, max_retries=3)
    assert type(error) is QuotaExceededError and not error.retryable
    assert error.status_code == 429 and error.provider_message
    assert error.provider_message[:40] == body["error"]["message"][:40]
    assert server.requests == 1 and sleeps == []


@pytest.mark.parametrize(("provider", "headers", "body", "wait"), RATE_LIMIT_429S, ids=["openai", "anthropic"])
def test_an_ordinary_429_is_retried_after_the_wait_its_headers_ask(
    provider: str, headers: dict[str, str], body: dict[str, Any], wait: float
) -> None:
    ok = httpx.Response(200, json=openai_completion("7") if provider == "openai" else anthropic_message("7"))
    server = Server(provider, [httpx.Response(429, headers=headers, json=body), ok])
    client, sleeps = server.client(max_retries=2)
    assert client.call(REQ) == "7"
    assert sleeps == [wait] and server.requests == 2


# -- Retry-After beyond 429, and x-should-retry -------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504, 529])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_retry_after_on_408_409_5xx_and_529_is_slept_exactly_as_on_a_429(provider: str, status: int) -> None:
    failed = httpx.Response(status, headers={"retry-after": "3"}, json=error_body(provider, status))
    ok = httpx.Response(200, json=openai_completion("7") if provider == "openai" else anthropic_message("7"))
    server = Server(provider, [failed, failed, ok])
    client, sleeps = server.client(max_retries=3, max_retry_after_s=5.0)
    assert client.call(REQ) == "7"
    assert sleeps == [3.0, 3.0]


def test_a_server_wait_past_max_retry_after_s_falls_back_to_the_backoff() -> None:
    failed = httpx.Response(503, headers={"retry-after": "600"}, json=error_body("openai", 503))
    server = Server("openai", [failed, httpx.Response(200, json=openai_completion("7"))])
    client, sleeps = server.client(max_retries=1, max_retry_after_s=60.0, backoff_base_s=0.5, backoff_cap_s=0.5)
    assert client.call(REQ) == "7"
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.5


def test_anthropics_recorded_529_is_retried_after_its_wait() -> None:
    status, headers, body = ANTHROPIC_OVERLOADED
    overloaded = httpx.Response(status, headers=headers, json=body)
    server = Server("anthropic", [overloaded, httpx.Response(200, json=anthropic_message("7"))])
    client, sleeps = server.client(max_retries=1)
    assert client.call(REQ) == "7" and sleeps == [4.0]


@pytest.mark.parametrize(
    ("status", "header", "retried"),
    [
        (400, "true", True),  # the server says a retry will help: obey, as the SDKs do
        (503, "false", False),
        (429, "false", False),
        (500, "TRUE", True),
        (500, "maybe", True),  # anything else: the status decides
        (400, "maybe", False),
    ],
)
def test_x_should_retry_overrides_the_status_table(status: int, header: str, retried: bool) -> None:
    # openai/openai-python, src/openai/_base_client.py (_should_retry): x-should-retry is read first.
    failed = httpx.Response(status, headers={"x-should-retry": header}, json=error_body("openai", status))
    server = Server("openai", [failed])
    error, _ = _raised(server, max_retries=2)
    assert server.requests == (3 if retried else 1)
    if retried:
        assert isinstance(error, RetriesExhaustedError)
    else:
        assert isinstance(error, (InvalidRequestError, ServerError, RateLimitError)) and not error.retryable


# -- what the answer says -----------------------------------------------------------------------


def test_content_filter_is_a_refusal_even_with_partial_text_and_nothing_is_cached() -> None:
    body = openai_completion("Here is how to", finish_reason="content_filter")
    server = Server("openai", [httpx.Response(200, json=body)])
    cache = MemoryCache()
    error, _ = _raised(server, cache=cache, max_retries=2)
    assert type(error) is ContentRefusedError and server.requests == 1
    assert "content_filter" in str(error) and len(cache) == 0


def test_anthropics_refusal_stop_reason_is_a_refusal_even_with_partial_text() -> None:
    server = Server("anthropic", [httpx.Response(200, json=anthropic_message("I can", stop_reason="refusal"))])
    error, _ = _raised(server, max_retries=2)
    assert type(error) is ContentRefusedError and server.requests == 1


@pytest.mark.parametrize(
    ("provider", "reason"),
    [
        ("openai", "length"),
        ("anthropic", "max_tokens"),
        ("anthropic", "model_context_window_exceeded"),
        ("anthropic", "pause_turn"),
    ],
)
def test_a_truncated_answer_is_returned_with_a_warning_and_never_cached_by_default(provider: str, reason: str) -> None:
    body = openai_completion("The primes are 2, 3,", finish_reason=reason) if provider == "openai" else (
        anthropic_message("The primes are 2, 3,", stop_reason=reason)
    )
    server = Server(provider, [httpx.Response(200, json=body)])
    cache = MemoryCache()
    client, _ = server.client(cache=cache)
    with pytest.warns(TruncatedAnswerWarning, match=reason):
        assert client.call(REQ) == "The primes are 2, 3,"
    assert len(cache) == 0
    with pytest.warns(TruncatedAnswerWarning):
        client.call(REQ)
    assert server.requests == 2, "not cached, so asked again"


def test_a_truncated_answer_is_cached_when_the_caller_asks_for_it() -> None:
    server = Server("openai", [httpx.Response(200, json=openai_completion("2, 3,", finish_reason="length"))])
    cache = MemoryCache()
    client, _ = server.client(cache=cache, cache_truncated=True)
    with pytest.warns(TruncatedAnswerWarning, match="cached anyway"):
        client.call(REQ)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert client.call(REQ) == "2, 3,"
    assert server.requests == 1 and len(cache) == 1


def test_a_complete_answer_gives_no_warning() -> None:
    server = Server("anthropic", [httpx.Response(200, json=anthropic_message("7", stop_reason="end_turn"))])
    client, _ = server.client(cache=MemoryCache())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert client.call(REQ) == "7"
