"""OpenAIProvider: Chat Completions requests and responses (llm_client/providers/http.py)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from provider_payloads import (
    OPENAI_BASE_URL,
    OPENAI_MODEL,
    SENTINEL_KEY,
    openai_completion,
    openai_refusal_completion,
    openai_tool_call_completion,
)

from llm_client import (
    ConfigurationError,
    ContentRefusedError,
    LLMClient,
    LLMRequest,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    TruncatedAnswerWarning,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# -- the request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "endpoint"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
        ("https://openrouter.ai/api/v1/", "https://openrouter.ai/api/v1/chat/completions"),
        ("http://vllm.internal:8000/v1", "http://vllm.internal:8000/v1/chat/completions"),
    ],
)
def test_posts_to_the_chat_completions_path_of_any_compatible_base_url(
    base_url: str, endpoint: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    route = router.post(endpoint).respond(200, json=openai_completion("Paris."))
    provider = OpenAIProvider(api_key="sk-test", base_url=base_url, http_client=http)
    assert provider.complete(REQ, timeout_s=5.0).text == "Paris."
    assert route.call_count == 1


def test_sends_the_key_as_a_bearer_token_and_a_json_body(http: httpx.Client, router: respx.MockRouter) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    OpenAIProvider(api_key="sk-test-123", http_client=http).complete(REQ, timeout_s=5.0)
    headers = route.calls.last.request.headers
    assert headers["authorization"] == "Bearer sk-test-123"
    assert headers["content-type"] == "application/json"


def test_the_body_has_the_system_message_first_and_every_setting_that_is_set(
    http: httpx.Client, router: respx.MockRouter
) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    req = LLMRequest(
        model="gpt-4o-mini",
        prompt="Name the capital of France.",
        system_prompt="Answer in one word.",
        temperature=0.3,
        max_tokens=20,
        top_p=0.9,
        stop=("\n\n", "END"),
    )
    OpenAIProvider(api_key="sk-test", http_client=http).complete(req, timeout_s=5.0)
    assert sent_json(route) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Name the capital of France."},
        ],
        "temperature": 0.3,
        "max_tokens": 20,
        "top_p": 0.9,
        "stop": ["\n\n", "END"],
    }


def test_the_body_leaves_out_settings_that_are_not_set(http: httpx.Client, router: respx.MockRouter) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)
    assert sent_json(route) == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Name the capital of France."}],
    }


def test_sends_with_the_injected_http_client() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=openai_completion("via the injected client"))

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        assert OpenAIProvider(api_key="k", http_client=http).complete(REQ, timeout_s=1.0).text == (
            "via the injected client"
        )
    assert [str(r.url) for r in seen] == [f"{OPENAI_BASE_URL}/chat/completions"]


# -- the response ----------------------------------------------------------------------------


def test_parses_a_real_chat_completion(http: httpx.Client, router: respx.MockRouter) -> None:
    router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion("Paris."))
    answer = OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)
    assert answer.text == "Paris."
    assert answer.model == OPENAI_MODEL
    assert answer.finish_reason == "stop"
    assert not answer.truncated
    assert answer.usage == {"prompt_tokens": 19, "completion_tokens": 8, "total_tokens": 27}


def test_an_answer_cut_at_the_token_limit_is_returned_and_marked_truncated(
    http: httpx.Client, router: respx.MockRouter
) -> None:
    router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(
        200, json=openai_completion("Paris is the capital and most", finish_reason="length")
    )
    answer = OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)
    assert answer.text == "Paris is the capital and most"
    assert answer.finish_reason == "length"
    assert answer.truncated


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (openai_tool_call_completion(), "finish_reason='tool_calls'"),
        ({**openai_completion(), "choices": []}, "no choices"),
        ({"id": "chatcmpl-1", "object": "chat.completion"}, "no choices"),
        ({**openai_completion(), "choices": [{"index": 0, "finish_reason": "stop"}]}, "no text content"),
        (
            {**openai_completion(), "choices": [{"index": 0, "message": {"content": None}, "finish_reason": "tea"}]},
            "no text content",
        ),
    ],
    ids=["tool-call", "empty-choices", "no-choices", "no-message", "null-content-unknown-finish"],
)
def test_a_completion_without_text_is_a_malformed_response(
    body: dict[str, Any], match: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=body)
    with pytest.raises(MalformedResponseError, match=match):
        OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)


def test_a_refusal_is_a_content_refused_error_that_is_never_retried(
    http: httpx.Client, router: respx.MockRouter
) -> None:
    router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_refusal_completion())
    with pytest.raises(ContentRefusedError, match="refused") as caught:
        OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)
    assert caught.value.retryable is False
    assert caught.value.provider_message == "I'm sorry, I can't help with that."


def test_a_content_filter_stop_without_text_is_a_content_refused_error(
    http: httpx.Client, router: respx.MockRouter
) -> None:
    body = openai_completion()
    body["choices"][0]["message"]["content"] = None
    body["choices"][0]["finish_reason"] = "content_filter"
    router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=body)
    with pytest.raises(ContentRefusedError, match="content_filter"):
        OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)


# -- the key ---------------------------------------------------------------------------------


def test_the_key_comes_from_openai_api_key_when_not_given(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, router: respx.MockRouter
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    OpenAIProvider(http_client=http).complete(REQ, timeout_s=5.0)
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-from-env"


def test_a_key_given_as_an_argument_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, router: respx.MockRouter
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    OpenAIProvider(api_key="sk-from-arg", http_client=http).complete(REQ, timeout_s=5.0)
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-from-arg"


def test_a_missing_key_is_a_configuration_error_at_the_first_call_not_before(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, router: respx.MockRouter
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    provider = OpenAIProvider(http_client=http)  # constructing is fine
    assert "missing" in repr(provider)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY") as caught:
        provider.complete(REQ, timeout_s=5.0)
    assert not caught.value.retryable
    assert not route.called  # nothing was sent without a key


def test_a_loopback_server_needs_no_key(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, router: respx.MockRouter
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    route = router.post("http://localhost:11434/v1/chat/completions").respond(200, json=openai_completion("Paris."))
    provider = OpenAIProvider(base_url="http://localhost:11434/v1", http_client=http)
    assert provider.complete(REQ, timeout_s=5.0).text == "Paris."
    assert "authorization" not in route.calls.last.request.headers


def test_the_repr_shows_the_url_but_never_the_key(http: httpx.Client) -> None:
    text = repr(OpenAIProvider(api_key=SENTINEL_KEY, http_client=http))
    assert SENTINEL_KEY not in text
    assert "api.openai.com" in text and "set" in text


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"base_url": "api.openai.com/v1"}, ValueError, "base_url"),
        ({"base_url": "ftp://example.org"}, ValueError, "base_url"),
        ({"http_client": object()}, TypeError, "http_client"),
        ({"api_key": 123}, TypeError, "api_key"),
        ({"reasoning": "yes"}, TypeError, "reasoning"),
    ],
)
def test_bad_settings_are_refused_at_construction(options: dict[str, Any], error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        OpenAIProvider(**options)


@pytest.mark.parametrize("base_url", ["http://localhost:abc/v1", "http://[::1/v1", "http://host\x00name/v1"])
def test_a_base_url_httpx_cannot_parse_is_refused_at_construction(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        OpenAIProvider(api_key="sk-test", base_url=base_url)


def test_close_closes_the_http_client_it_made_and_leaves_a_given_one_open(http: httpx.Client) -> None:
    made = OpenAIProvider(api_key="sk-test")
    made.close()
    assert made._http.is_closed
    given = OpenAIProvider(api_key="sk-test", http_client=http)
    given.close()
    assert not http.is_closed


SETTINGS = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 50, "stop": ("END",)}


@pytest.mark.parametrize("model", ["o3-mini", "gpt-5", "gpt-5.1", "gpt-4o-mini", "some-future-model"])
def test_reasoning_true_sends_max_completion_tokens_and_no_stop_whatever_the_name(
    model: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    req = LLMRequest(model=model, prompt="Hi.", reasoning_effort="low", **SETTINGS)
    OpenAIProvider(api_key="sk-test", http_client=http, reasoning=True).complete(req, timeout_s=5.0)
    body = sent_json(route)
    assert body["max_completion_tokens"] == 50 and body["reasoning_effort"] == "low"
    assert not {"max_tokens", "stop"} & body.keys()
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9), "a setting the request sets is sent"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o3-mini", "gpt-5", "gpt-5.1", "llama3.1:8b"])
def test_by_default_nothing_is_guessed_from_the_models_name(
    model: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    req = LLMRequest(model=model, prompt="Hi.", **SETTINGS)
    OpenAIProvider(api_key="sk-test", http_client=http).complete(req, timeout_s=5.0)
    body = sent_json(route)
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["stop"]) == (50, 0.3, 0.9, ["END"])
    assert not {"max_completion_tokens", "reasoning_effort"} & body.keys()


@pytest.mark.parametrize("model", ["o3-mini", "gpt-5.1", "claude-opus-4-7", "gpt-4o-mini"])
def test_a_request_that_sets_no_sampling_setting_sends_none_to_any_model(
    model: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=openai_completion())
    OpenAIProvider(api_key="sk-test", http_client=http).complete(LLMRequest(model=model, prompt="Hi."), timeout_s=5.0)
    assert not {"temperature", "top_p", "reasoning_effort", "stop"} & sent_json(route).keys()


def test_reasoning_must_be_true_or_false() -> None:
    with pytest.raises(TypeError, match="reasoning"):
        OpenAIProvider(api_key="sk-test", reasoning=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("finish_reason", ["stop", "length"])
def test_null_content_with_a_normal_finish_is_an_empty_answer_asked_once_and_cached(
    finish_reason: str, http: httpx.Client, router: respx.MockRouter
) -> None:
    body = openai_completion(finish_reason=finish_reason)
    body["choices"][0]["message"]["content"] = None
    route = router.post(f"{OPENAI_BASE_URL}/chat/completions").respond(200, json=body)
    cache = MemoryCache()
    client = LLMClient(OpenAIProvider(api_key="sk-test", http_client=http), cache=cache, sleep=_no_sleep,
                       cache_truncated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedAnswerWarning)
        assert client.call(REQ) == ""
        assert client.call(REQ) == ""
    assert route.call_count == 1, "an empty answer is an answer: never retried, and the second call is a cache hit"
    assert len(cache) == 1


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"an empty answer is never retried, yet the client slept {seconds} s")
