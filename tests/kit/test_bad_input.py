"""Every public function and constructor refuses bad arguments with a clear error naming the argument.

One table: (what is called, the bad arguments, the exception type, the argument
name that must appear in the message). A second group checks that a refused
call reaches neither the provider nor the cache.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from llm_client import (
    AnthropicProvider,
    FakeProvider,
    LLMClient,
    LLMRequest,
    MemoryCache,
    OpenAIProvider,
    RateLimitError,
    SQLiteCache,
    add_jitter,
    backoff_delay,
    make_cache_key,
    parse_retry_after,
    retry_delay,
)
from llm_client._internal.policy import RetryPolicy

NAN = math.nan
INF = math.inf
KEY = "sk-test-key"
REQ = LLMRequest(model="m", prompt="hello")


class Answer(BaseModel):
    value: int


def _request(tmp: Path, **kwargs: Any) -> LLMRequest:
    return LLMRequest(**{"model": "m", "prompt": "hello", **kwargs})


def _cache_key(tmp: Path, **kwargs: Any) -> str:
    return make_cache_key(**kwargs)


def _backoff(tmp: Path, **kwargs: Any) -> float:
    return backoff_delay(**{"attempt": 0, **kwargs})


def _jitter(tmp: Path, **kwargs: Any) -> float:
    return add_jitter(**{"delay_s": 1.0, **kwargs})


def _parse_retry_after(tmp: Path, **kwargs: Any) -> float | None:
    headers = kwargs.pop("headers", {"retry-after": "1"})
    return parse_retry_after(headers, **kwargs)


def _retry_delay(tmp: Path, **kwargs: Any) -> float:
    args: dict[str, Any] = {
        "error": RateLimitError(retry_after=1.0),
        "attempt": 0,
        "max_retry_after_s": 60.0,
        "backoff": lambda attempt: 0.5,
        **kwargs,
    }
    return retry_delay(args.pop("error"), args.pop("attempt"), **args)


def _policy(tmp: Path, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(**kwargs)


def _client(tmp: Path, **kwargs: Any) -> LLMClient:
    provider = kwargs.pop("provider", FakeProvider())
    return LLMClient(provider, **kwargs)


def _call(tmp: Path, **kwargs: Any) -> str:
    req = kwargs.pop("req", REQ)
    return LLMClient(FakeProvider(), cache=MemoryCache(), sleep=lambda s: None).call(req, **kwargs)


def _call_structured(tmp: Path, **kwargs: Any) -> Any:
    req = kwargs.pop("req", REQ)
    schema = kwargs.pop("schema", Answer)
    client = LLMClient(FakeProvider(['{"value": 1}']), cache=MemoryCache(), sleep=lambda s: None)
    return client.call_structured(req, schema, **kwargs)


def _memory_get(tmp: Path, **kwargs: Any) -> str | None:
    return MemoryCache().get(**kwargs)


def _memory_set(tmp: Path, **kwargs: Any) -> None:
    MemoryCache().set(**kwargs)


def _sqlite(tmp: Path, **kwargs: Any) -> SQLiteCache:
    args: dict[str, Any] = {"path": tmp / "cache.db", **kwargs}
    return SQLiteCache(args.pop("path"), **args)


def _sqlite_get(tmp: Path, **kwargs: Any) -> str | None:
    return _sqlite(tmp).get(**kwargs)


def _sqlite_set(tmp: Path, **kwargs: Any) -> None:
    _sqlite(tmp).set(**kwargs)


def _openai(tmp: Path, **kwargs: Any) -> OpenAIProvider:
    return OpenAIProvider(**{"api_key": KEY, **kwargs})


def _anthropic(tmp: Path, **kwargs: Any) -> AnthropicProvider:
    return AnthropicProvider(**{"api_key": KEY, **kwargs})


def _failing_http() -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(500)))


def _openai_complete(tmp: Path, **kwargs: Any) -> Any:
    provider = OpenAIProvider(api_key=KEY, http_client=_failing_http())
    return provider.complete(kwargs.pop("req", REQ), **{"timeout_s": 1.0, **kwargs})


def _anthropic_complete(tmp: Path, **kwargs: Any) -> Any:
    provider = AnthropicProvider(api_key=KEY, http_client=_failing_http())
    return provider.complete(kwargs.pop("req", REQ), **{"timeout_s": 1.0, **kwargs})


def _fake_complete(tmp: Path, **kwargs: Any) -> Any:
    return FakeProvider().complete(kwargs.pop("req", REQ), **{"timeout_s": 1.0, **kwargs})


def _fake(tmp: Path, **kwargs: Any) -> FakeProvider:
    return FakeProvider(**kwargs)


# (label, callable taking tmp_path then **kwargs, kwargs, exception type, name in the message)
Case = tuple[str, Callable[..., Any], dict[str, Any], type[Exception], str]


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(label: str, fn: Callable[..., Any], kwargs: dict[str, Any], exc: type[Exception], name: str) -> None:
        cases.append((label, fn, kwargs, exc, name))

    # LLMRequest: every field.
    add("request-model-empty", _request, {"model": ""}, ValueError, "model")
    add("request-model-blank", _request, {"model": "   "}, ValueError, "model")
    add("request-model-none", _request, {"model": None}, TypeError, "model")
    add("request-prompt-bytes", _request, {"prompt": b"hello"}, TypeError, "prompt")
    add("request-prompt-list", _request, {"prompt": ["hello"]}, TypeError, "prompt")
    add("request-prompt-empty", _request, {"prompt": ""}, ValueError, "prompt")
    add("request-system-empty", _request, {"system_prompt": ""}, ValueError, "system_prompt")
    add("request-system-int", _request, {"system_prompt": 3}, TypeError, "system_prompt")
    add("request-temperature-nan", _request, {"temperature": NAN}, ValueError, "temperature")
    add("request-temperature-inf", _request, {"temperature": INF}, ValueError, "temperature")
    add("request-temperature-negative", _request, {"temperature": -0.1}, ValueError, "temperature")
    add("request-temperature-too-high", _request, {"temperature": 2.5}, ValueError, "temperature")
    add("request-temperature-bool", _request, {"temperature": True}, TypeError, "temperature")
    add("request-temperature-str", _request, {"temperature": "0.5"}, TypeError, "temperature")
    add("request-max-tokens-zero", _request, {"max_tokens": 0}, ValueError, "max_tokens")
    add("request-max-tokens-float", _request, {"max_tokens": 10.0}, TypeError, "max_tokens")
    add("request-max-tokens-bool", _request, {"max_tokens": True}, TypeError, "max_tokens")
    add("request-top-p-zero", _request, {"top_p": 0.0}, ValueError, "top_p")
    add("request-top-p-above-one", _request, {"top_p": 1.5}, ValueError, "top_p")
    add("request-top-p-nan", _request, {"top_p": NAN}, ValueError, "top_p")
    add("request-stop-str", _request, {"stop": "END"}, TypeError, "stop")
    add("request-stop-empty-item", _request, {"stop": ("",)}, ValueError, "stop")
    add("request-stop-int-item", _request, {"stop": (1,)}, TypeError, "stop")

    # make_cache_key.
    add("cache-key-not-request", _cache_key, {"req": "hello"}, TypeError, "req")
    add("cache-key-dict", _cache_key, {"req": {"model": "m"}}, TypeError, "req")

    # backoff_delay and add_jitter.
    add("backoff-attempt-negative", _backoff, {"attempt": -1}, ValueError, "attempt")
    add("backoff-attempt-float", _backoff, {"attempt": 1.0}, TypeError, "attempt")
    add("backoff-attempt-bool", _backoff, {"attempt": True}, TypeError, "attempt")
    add("backoff-base-negative", _backoff, {"base": -0.5}, ValueError, "base")
    add("backoff-base-nan", _backoff, {"base": NAN}, ValueError, "base")
    add("backoff-base-inf", _backoff, {"base": INF}, ValueError, "base")
    add("backoff-cap-negative", _backoff, {"cap": -1.0}, ValueError, "cap")
    add("backoff-cap-nan", _backoff, {"cap": NAN}, ValueError, "cap")
    add("backoff-cap-bool", _backoff, {"cap": False}, TypeError, "cap")
    add("jitter-delay-negative", _jitter, {"delay_s": -1.0}, ValueError, "delay_s")
    add("jitter-delay-nan", _jitter, {"delay_s": NAN}, ValueError, "delay_s")
    add("jitter-delay-inf", _jitter, {"delay_s": INF}, ValueError, "delay_s")
    add("jitter-delay-str", _jitter, {"delay_s": "1"}, TypeError, "delay_s")
    add("jitter-rng-int", _jitter, {"rng": 42}, TypeError, "rng")
    add("jitter-rng-module", _jitter, {"rng": random}, TypeError, "rng")

    # parse_retry_after: headers must be a mapping (a dict or httpx.Headers).
    add("retry-after-headers-str", _parse_retry_after, {"headers": "Retry-After: 2"}, TypeError, "headers")
    add("retry-after-headers-list", _parse_retry_after, {"headers": [("retry-after", "2")]}, TypeError, "headers")
    add("retry-after-headers-none", _parse_retry_after, {"headers": None}, TypeError, "headers")
    add("retry-after-now-nan", _parse_retry_after, {"now": NAN}, ValueError, "now")
    add("retry-after-now-str", _parse_retry_after, {"now": "now"}, TypeError, "now")

    # retry_delay.
    add("retry-delay-error-not-an-llm-error", _retry_delay, {"error": ValueError("boom")}, TypeError, "error")
    add("rate-limit-attempt-negative", _retry_delay, {"attempt": -1}, ValueError, "attempt")
    add("rate-limit-attempt-bool", _retry_delay, {"attempt": False}, TypeError, "attempt")
    add("rate-limit-max-negative", _retry_delay, {"max_retry_after_s": -1.0}, ValueError, "max_retry_after_s")
    add("rate-limit-max-nan", _retry_delay, {"max_retry_after_s": NAN}, ValueError, "max_retry_after_s")
    add("rate-limit-backoff-not-callable", _retry_delay, {"backoff": 0.5}, TypeError, "backoff")

    # RetryPolicy.
    add("policy-max-retries-negative", _policy, {"max_retries": -1}, ValueError, "max_retries")
    add("policy-max-retries-float", _policy, {"max_retries": 2.0}, TypeError, "max_retries")
    add("policy-max-retries-bool", _policy, {"max_retries": True}, TypeError, "max_retries")
    add("policy-timeout-zero", _policy, {"timeout_s": 0}, ValueError, "timeout_s")
    add("policy-timeout-negative", _policy, {"timeout_s": -1.0}, ValueError, "timeout_s")
    add("policy-timeout-inf", _policy, {"timeout_s": INF}, ValueError, "timeout_s")
    add("policy-deadline-zero", _policy, {"deadline_s": 0.0}, ValueError, "deadline_s")
    add("policy-deadline-nan", _policy, {"deadline_s": NAN}, ValueError, "deadline_s")
    add("policy-max-retry-after-negative", _policy, {"max_retry_after_s": -1.0}, ValueError, "max_retry_after_s")
    add("policy-base-negative", _policy, {"backoff_base_s": -0.1}, ValueError, "backoff_base_s")
    add("policy-cap-inf", _policy, {"backoff_cap_s": INF}, ValueError, "backoff_cap_s")

    # LLMClient constructor.
    add("client-provider-none", _client, {"provider": None}, TypeError, "provider")
    add("client-provider-str", _client, {"provider": "openai"}, TypeError, "provider")
    add("client-cache-dict", _client, {"cache": {}}, TypeError, "cache")
    add("client-cache-str", _client, {"cache": "cache.db"}, TypeError, "cache")
    add("client-max-retries-negative", _client, {"max_retries": -1}, ValueError, "max_retries")
    add("client-max-retries-bool", _client, {"max_retries": True}, TypeError, "max_retries")
    add("client-timeout-zero", _client, {"timeout_s": 0.0}, ValueError, "timeout_s")
    add("client-timeout-nan", _client, {"timeout_s": NAN}, ValueError, "timeout_s")
    add("client-timeout-bool", _client, {"timeout_s": True}, TypeError, "timeout_s")
    add("client-deadline-negative", _client, {"deadline_s": -5.0}, ValueError, "deadline_s")
    add("client-deadline-inf", _client, {"deadline_s": INF}, ValueError, "deadline_s")
    add("client-max-retry-after-nan", _client, {"max_retry_after_s": NAN}, ValueError, "max_retry_after_s")
    add("client-sleep-not-callable", _client, {"sleep": 0.1}, TypeError, "sleep")
    add("client-clock-none", _client, {"clock": None}, TypeError, "clock")
    add("client-rng-int", _client, {"rng": 7}, TypeError, "rng")
    add("client-rng-module", _client, {"rng": random}, TypeError, "rng")
    add("client-key-fn-str", _client, {"key_fn": "sha256"}, TypeError, "key_fn")
    add("client-backoff-base-negative", _client, {"backoff_base_s": -1.0}, ValueError, "backoff_base_s")
    add("client-backoff-cap-nan", _client, {"backoff_cap_s": NAN}, ValueError, "backoff_cap_s")

    # LLMClient.call and call_structured keyword arguments.
    add("call-req-str", _call, {"req": "hello"}, TypeError, "req")
    add("call-timeout-zero", _call, {"timeout_s": 0}, ValueError, "timeout_s")
    add("call-timeout-negative", _call, {"timeout_s": -1.0}, ValueError, "timeout_s")
    add("call-timeout-nan", _call, {"timeout_s": NAN}, ValueError, "timeout_s")
    add("call-timeout-str", _call, {"timeout_s": "5"}, TypeError, "timeout_s")
    add("call-max-retries-negative", _call, {"max_retries": -1}, ValueError, "max_retries")
    add("call-max-retries-float", _call, {"max_retries": 1.5}, TypeError, "max_retries")
    add("call-use-cache-str", _call, {"use_cache": "no"}, TypeError, "use_cache")
    add("call-use-cache-none", _call, {"use_cache": None}, TypeError, "use_cache")
    add("structured-req-str", _call_structured, {"req": "hello"}, TypeError, "req")
    add("structured-schema-dict", _call_structured, {"schema": dict}, TypeError, "schema")
    add("structured-schema-instance", _call_structured, {"schema": Answer(value=1)}, TypeError, "schema")
    add("structured-schema-none", _call_structured, {"schema": None}, TypeError, "schema")
    add("structured-max-repairs-negative", _call_structured, {"max_repairs": -1}, ValueError, "max_repairs")
    add("structured-max-repairs-bool", _call_structured, {"max_repairs": True}, TypeError, "max_repairs")
    add("structured-timeout-inf", _call_structured, {"timeout_s": INF}, ValueError, "timeout_s")
    add("structured-max-retries-negative", _call_structured, {"max_retries": -2}, ValueError, "max_retries")
    add("structured-use-cache-int", _call_structured, {"use_cache": 1}, TypeError, "use_cache")

    # MemoryCache and SQLiteCache.
    add("memory-get-int", _memory_get, {"key": 1}, TypeError, "key")
    add("memory-set-key-none", _memory_set, {"key": None, "value": "v"}, TypeError, "key")
    add("memory-set-value-dict", _memory_set, {"key": "k", "value": {}}, TypeError, "value")
    add("memory-set-value-none", _memory_set, {"key": "k", "value": None}, TypeError, "value")
    add("sqlite-path-int", _sqlite, {"path": 3}, TypeError, "path")
    add("sqlite-path-none", _sqlite, {"path": None}, TypeError, "path")
    add("sqlite-path-empty", _sqlite, {"path": ""}, ValueError, "path")
    add("sqlite-timeout-zero", _sqlite, {"timeout_s": 0}, ValueError, "timeout_s")
    add("sqlite-timeout-nan", _sqlite, {"timeout_s": NAN}, ValueError, "timeout_s")
    add("sqlite-timeout-inf", _sqlite, {"timeout_s": INF}, ValueError, "timeout_s")
    add("sqlite-timeout-bool", _sqlite, {"timeout_s": True}, TypeError, "timeout_s")
    add("sqlite-get-bytes", _sqlite_get, {"key": b"k"}, TypeError, "key")
    add("sqlite-set-value-int", _sqlite_set, {"key": "k", "value": 1}, TypeError, "value")
    add("sqlite-set-key-int", _sqlite_set, {"key": 1, "value": "v"}, TypeError, "key")

    # Providers.
    add("openai-api-key-int", _openai, {"api_key": 1234}, TypeError, "api_key")
    add("openai-api-key-inner-newline", _openai, {"api_key": "sk-abc\ndef"}, ValueError, "api_key")
    add("openai-api-key-control-char", _openai, {"api_key": "sk-abc\x00"}, ValueError, "api_key")
    add("openai-api-key-non-ascii", _openai, {"api_key": "sk-\u2019abc"}, ValueError, "api_key")
    add("openai-base-url-no-scheme", _openai, {"base_url": "api.openai.com/v1"}, ValueError, "base_url")
    add("openai-base-url-none", _openai, {"base_url": None}, ValueError, "base_url")
    add("openai-http-client-async", _openai, {"http_client": httpx.AsyncClient()}, TypeError, "http_client")
    add("openai-http-client-str", _openai, {"http_client": "httpx"}, TypeError, "http_client")
    add("anthropic-api-key-bytes", _anthropic, {"api_key": b"key"}, TypeError, "api_key")
    add("anthropic-api-key-inner-space", _anthropic, {"api_key": "sk-ant abc"}, ValueError, "api_key")
    add("anthropic-base-url-ftp", _anthropic, {"base_url": "ftp://example.com"}, ValueError, "base_url")
    add("anthropic-http-client-dict", _anthropic, {"http_client": {}}, TypeError, "http_client")
    add("anthropic-max-tokens-zero", _anthropic, {"default_max_tokens": 0}, ValueError, "default_max_tokens")
    add("anthropic-max-tokens-bool", _anthropic, {"default_max_tokens": True}, TypeError, "default_max_tokens")
    add("anthropic-max-tokens-float", _anthropic, {"default_max_tokens": 100.0}, TypeError, "default_max_tokens")
    for label, complete in (("openai", _openai_complete), ("anthropic", _anthropic_complete), ("fake", _fake_complete)):
        add(f"{label}-complete-req-str", complete, {"req": "hello"}, TypeError, "req")
        add(f"{label}-complete-timeout-zero", complete, {"timeout_s": 0}, ValueError, "timeout_s")
        add(f"{label}-complete-timeout-nan", complete, {"timeout_s": NAN}, ValueError, "timeout_s")
        add(f"{label}-complete-timeout-none", complete, {"timeout_s": None}, TypeError, "timeout_s")

    # FakeProvider.
    add("fake-script-int", _fake, {"script": 3}, TypeError, "script")
    add("fake-script-str", _fake, {"script": "hello"}, TypeError, "script")
    add("fake-script-item-int", _fake, {"script": ["ok", 3]}, TypeError, "script")
    add("fake-script-item-none", _fake, {"script": [None]}, TypeError, "script")
    add("fake-default-str", _fake, {"default": "hello"}, TypeError, "default")
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("fn", "kwargs", "expected", "name"),
    [pytest.param(fn, kwargs, exc, name, id=label) for label, fn, kwargs, exc, name in CASES],
)
def test_bad_argument_is_refused_with_an_error_naming_it(
    tmp_path: Path, fn: Callable[..., Any], kwargs: dict[str, Any], expected: type[Exception], name: str
) -> None:
    with pytest.raises(expected) as info:
        fn(tmp_path, **kwargs)
    assert name in str(info.value), f"the message does not name {name!r}: {info.value}"


def test_the_table_has_no_duplicate_labels() -> None:
    labels = [label for label, *_ in CASES]
    assert len(labels) == len(set(labels))


def test_an_api_key_refused_for_its_characters_is_not_echoed() -> None:
    secret = "sk-SENTINEL-do-not-leak-1234\x00"
    with pytest.raises(ValueError) as info:
        OpenAIProvider(api_key=secret)
    assert "SENTINEL" not in str(info.value)


def test_an_api_key_with_surrounding_whitespace_is_trimmed() -> None:
    """A key read from a file usually ends in a newline; it is sent without it."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    provider = OpenAIProvider(api_key=" sk-abc\n", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert provider.complete(REQ, timeout_s=1.0).text == "ok"
    assert seen == ["Bearer sk-abc"]


# -- a refused call reaches neither the provider nor the cache ----------------------------


class RecordingCache(MemoryCache):
    def __init__(self) -> None:
        super().__init__()
        self.gets: list[str] = []
        self.sets: list[tuple[str, str]] = []

    def get(self, key: str) -> str | None:
        self.gets.append(key)
        return super().get(key)

    def set(self, key: str, value: str) -> None:
        self.sets.append((key, value))
        super().set(key, value)


REFUSED_CALLS = [
    pytest.param("call", {"timeout_s": 0}, id="call-timeout-zero"),
    pytest.param("call", {"timeout_s": NAN}, id="call-timeout-nan"),
    pytest.param("call", {"max_retries": -1}, id="call-max-retries-negative"),
    pytest.param("call", {"use_cache": "yes"}, id="call-use-cache-str"),
    pytest.param("call", {"req": "hello"}, id="call-req-str"),
    pytest.param("call_structured", {"schema": dict}, id="structured-schema-dict"),
    pytest.param("call_structured", {"max_repairs": -1}, id="structured-max-repairs-negative"),
    pytest.param("call_structured", {"timeout_s": -1.0}, id="structured-timeout-negative"),
    pytest.param("call_structured", {"max_retries": True}, id="structured-max-retries-bool"),
    pytest.param("call_structured", {"use_cache": None}, id="structured-use-cache-none"),
]


@pytest.mark.parametrize(("method", "kwargs"), REFUSED_CALLS)
def test_a_refused_call_reaches_neither_provider_nor_cache(method: str, kwargs: dict[str, Any]) -> None:
    provider = FakeProvider(['{"value": 1}'])
    cache = RecordingCache()
    slept: list[float] = []
    client = LLMClient(provider, cache=cache, sleep=slept.append)
    req = kwargs.pop("req", REQ)
    with pytest.raises((TypeError, ValueError)):
        if method == "call":
            client.call(req, **kwargs)
        else:
            client.call_structured(req, kwargs.pop("schema", Answer), **kwargs)
    assert provider.call_count == 0
    assert cache.gets == [] and cache.sets == [] and len(cache) == 0
    assert slept == []


def test_a_refused_request_never_becomes_a_client_call() -> None:
    provider = FakeProvider()
    client = LLMClient(provider, cache=RecordingCache())
    with pytest.raises(ValueError, match="temperature"):
        client.call(LLMRequest(model="m", prompt="hello", temperature=NAN))
    assert provider.call_count == 0


def test_a_refused_provider_call_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    provider = OpenAIProvider(api_key=KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(ValueError, match="timeout_s"):
        provider.complete(REQ, timeout_s=-1.0)
    assert sent == []
