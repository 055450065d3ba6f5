"""AnthropicProvider: Messages API requests and responses (llm_client/_internal/anthropic_messages.py)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from provider_payloads import (
    ANTHROPIC_BASE_URL,
    ANTHROPIC_MODEL,
    SENTINEL_KEY,
    anthropic_message,
    anthropic_tool_use_message,
)

from llm_client import (
    AnthropicProvider,
    ConfigurationError,
    ContentRefusedError,
    LLMClient,
    LLMRequest,
    MalformedResponseError,
    MemoryCache,
    TruncatedAnswerWarning,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="claude-3-5-haiku-latest", prompt="Name the capital of France.")
MESSAGES = f"{ANTHROPIC_BASE_URL}/v1/messages"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def route() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(MESSAGES)


def provider(http: httpx.Client, **options: Any) -> AnthropicProvider:
    return AnthropicProvider(**{"api_key": "sk-ant-test", "http_client": http, **options})


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# -- the request -----------------------------------------------------------------------------


def test_sends_the_three_required_headers(http: httpx.Client, route: respx.Route) -> None:
    route.respond(200, json=anthropic_message())
    provider(http, api_key="sk-ant-123").complete(REQ, timeout_s=5.0)
    headers = route.calls.last.request.headers
    assert headers["x-api-key"] == "sk-ant-123"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers


def test_the_system_prompt_is_top_level_and_every_setting_set_is_sent(
    http: httpx.Client, route: respx.Route
) -> None:
    route.respond(200, json=anthropic_message())
    req = LLMRequest(
        model="claude-3-5-haiku-latest",
        prompt="Name the capital of France.",
        system_prompt="Answer in one word.",
        temperature=0.3,
        max_tokens=20,
        top_p=0.9,
        stop=("\n\nHuman:", "END"),
    )
    provider(http).complete(req, timeout_s=5.0)
    assert sent_json(route) == {
        "model": "claude-3-5-haiku-latest",
        "system": "Answer in one word.",
        "messages": [{"role": "user", "content": "Name the capital of France."}],
        "max_tokens": 20,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:", "END"],
    }


def test_a_request_that_sets_no_sampling_setting_sends_none(http: httpx.Client, route: respx.Route) -> None:
    """Claude models from Opus 4.7 on answer 400 to ``temperature``: by default it is not sent."""
    route.respond(200, json=anthropic_message())
    provider(http).complete(LLMRequest(model="claude-opus-4-7", prompt="Hi."), timeout_s=5.0)
    assert sent_json(route) == {
        "model": "claude-opus-4-7",
        "messages": [{"role": "user", "content": "Hi."}],
        "max_tokens": 1024,
    }


def test_reasoning_effort_is_refused_before_anything_is_sent(http: httpx.Client, route: respx.Route) -> None:
    with pytest.raises(ValueError, match="reasoning_effort"):
        provider(http).complete(LLMRequest(model="claude-x", prompt="Hi.", reasoning_effort="low"), timeout_s=5.0)
    assert route.call_count == 0


def test_temperature_is_sent_when_top_p_is_not_set(http: httpx.Client, route: respx.Route) -> None:
    route.respond(200, json=anthropic_message())
    provider(http).complete(LLMRequest(model="claude-3-5-haiku-latest", prompt="Hi", temperature=0.3), timeout_s=5.0)
    body = sent_json(route)
    assert body["temperature"] == 0.3
    assert "top_p" not in body


def test_a_temperature_above_1_is_refused_naming_it_before_anything_is_sent(
    http: httpx.Client, route: respx.Route
) -> None:
    route.respond(200, json=anthropic_message())
    with pytest.raises(ValueError, match="temperature"):
        provider(http).complete(
            LLMRequest(model="claude-3-5-haiku-latest", prompt="Hi", temperature=1.5), timeout_s=5.0
        )
    assert route.call_count == 0


@pytest.mark.parametrize(("options", "expected"), [({}, 1024), ({"default_max_tokens": 256}, 256)])
def test_max_tokens_is_always_sent_even_when_the_request_leaves_it_unset(
    options: dict[str, Any], expected: int, http: httpx.Client, route: respx.Route
) -> None:
    route.respond(200, json=anthropic_message())
    provider(http, **options).complete(REQ, timeout_s=5.0)
    body = sent_json(route)
    assert body["max_tokens"] == expected
    assert "system" not in body and "top_p" not in body and "stop_sequences" not in body
    assert all(message["role"] != "system" for message in body["messages"])


def test_posts_to_the_messages_path_of_another_base_url(http: httpx.Client) -> None:
    with respx.mock() as router:
        other = router.post("https://llm-gateway.example.org/anthropic/v1/messages").respond(
            200, json=anthropic_message("Paris.")
        )
        answer = provider(http, base_url="https://llm-gateway.example.org/anthropic/").complete(REQ, timeout_s=5.0)
    assert answer.text == "Paris."
    assert other.call_count == 1


# -- the response ----------------------------------------------------------------------------


def test_parses_a_real_message(http: httpx.Client, route: respx.Route) -> None:
    route.respond(200, json=anthropic_message("Paris."))
    answer = provider(http).complete(REQ, timeout_s=5.0)
    assert answer.text == "Paris."
    assert answer.model == ANTHROPIC_MODEL
    assert answer.finish_reason == "end_turn"
    assert not answer.truncated
    assert answer.usage == {
        "input_tokens": 21,
        "output_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def test_an_answer_cut_at_max_tokens_is_returned_and_marked_truncated(http: httpx.Client, route: respx.Route) -> None:
    route.respond(200, json=anthropic_message("Paris is the capital and", stop_reason="max_tokens"))
    answer = provider(http).complete(REQ, timeout_s=5.0)
    assert answer.text == "Paris is the capital and"
    assert answer.finish_reason == "max_tokens"
    assert answer.truncated


def test_the_text_blocks_are_joined_and_other_blocks_skipped(http: httpx.Client, route: respx.Route) -> None:
    body = anthropic_tool_use_message(with_text="Let me look that up. ")
    body["content"].append({"type": "text", "text": "Done."})
    route.respond(200, json=body)
    answer = provider(http).complete(REQ, timeout_s=5.0)
    assert answer.text == "Let me look that up. Done."
    assert answer.finish_reason == "tool_use"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (anthropic_tool_use_message(), "stop_reason='tool_use'"),
        ({**anthropic_message(), "content": [], "stop_reason": "tea"}, "no text block"),
        ({**anthropic_message(), "content": "Paris."}, "no content"),
        ({"type": "message", "role": "assistant"}, "no content"),
    ],
    ids=["tool-use-only", "empty-content", "content-not-a-list", "no-content"],
)
def test_a_message_without_text_is_a_malformed_response(
    body: dict[str, Any], match: str, http: httpx.Client, route: respx.Route
) -> None:
    route.respond(200, json=body)
    with pytest.raises(MalformedResponseError, match=match):
        provider(http).complete(REQ, timeout_s=5.0)


# -- the key ---------------------------------------------------------------------------------


def test_the_key_comes_from_anthropic_api_key_when_not_given(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, route: respx.Route
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    route.respond(200, json=anthropic_message())
    AnthropicProvider(http_client=http).complete(REQ, timeout_s=5.0)
    assert route.calls.last.request.headers["x-api-key"] == "sk-ant-from-env"


def test_a_key_given_as_an_argument_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, route: respx.Route
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    route.respond(200, json=anthropic_message())
    provider(http, api_key="sk-ant-from-arg").complete(REQ, timeout_s=5.0)
    assert route.calls.last.request.headers["x-api-key"] == "sk-ant-from-arg"


def test_a_missing_key_is_a_configuration_error_at_the_first_call_not_before(
    monkeypatch: pytest.MonkeyPatch, http: httpx.Client, route: respx.Route
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    route.respond(200, json=anthropic_message())
    missing = AnthropicProvider(http_client=http)  # constructing is fine
    assert "missing" in repr(missing)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY") as caught:
        missing.complete(REQ, timeout_s=5.0)
    assert not caught.value.retryable
    assert not route.called


def test_the_repr_shows_the_url_but_never_the_key(http: httpx.Client) -> None:
    text = repr(provider(http, api_key=SENTINEL_KEY))
    assert SENTINEL_KEY not in text
    assert "api.anthropic.com" in text and "set" in text


@pytest.mark.parametrize(
    ("options", "error", "name"),
    [
        ({"base_url": "api.anthropic.com"}, ValueError, "base_url"),
        ({"http_client": "client"}, TypeError, "http_client"),
        ({"default_max_tokens": 0}, ValueError, "default_max_tokens"),
        ({"default_max_tokens": True}, TypeError, "default_max_tokens"),
    ],
)
def test_bad_settings_are_refused_at_construction(options: dict[str, Any], error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        AnthropicProvider(api_key="k", **options)


def test_a_refusal_stop_reason_is_a_content_refused_error(http: httpx.Client, route: respx.Route) -> None:
    body = anthropic_message()
    body["stop_reason"] = "refusal"
    route.respond(200, json=body)
    with pytest.raises(ContentRefusedError, match="refus") as caught:
        provider(http).complete(REQ, timeout_s=5.0)
    assert caught.value.retryable is False


@pytest.mark.parametrize("base_url", ["http://localhost:abc", "http://[::1", "http://host\x00name"])
def test_a_base_url_httpx_cannot_parse_is_refused_at_construction(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        AnthropicProvider(api_key="k", base_url=base_url)


def test_close_closes_the_http_client_it_made_and_leaves_a_given_one_open(http: httpx.Client) -> None:
    made = AnthropicProvider(api_key="k")
    made.close()
    assert made._http.is_closed
    given = provider(http)
    given.close()
    assert not http.is_closed


@pytest.mark.parametrize("stop_reason", ["end_turn", "stop_sequence", "max_tokens"])
def test_empty_content_with_a_normal_end_is_an_empty_answer_asked_once_and_cached(
    stop_reason: str, http: httpx.Client, route: respx.Route
) -> None:
    route.respond(200, json={**anthropic_message(), "content": [], "stop_reason": stop_reason})
    cache = MemoryCache()
    client = LLMClient(provider(http), cache=cache, sleep=_no_sleep, cache_truncated=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedAnswerWarning)
        assert client.call(REQ) == ""
        assert client.call(REQ) == ""
    assert route.call_count == 1, "an empty answer is an answer: never retried, and the second call is a cache hit"
    assert len(cache) == 1


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"an empty answer is never retried, yet the client slept {seconds} s")
