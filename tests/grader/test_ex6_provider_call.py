"""Exercise 6: the provider call. OpenAIProvider.complete, error_for_status and error_for_transport.

HTTP is mocked with respx: nothing leaves this machine.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
import respx

import llm_client.providers.http as http_module
from llm_client import (
    AnthropicProvider,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    OpenAIProvider,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from llm_client.providers.http import error_for_status, error_for_transport

pytestmark = pytest.mark.ex6

BASE_URL = "https://llm.example.test/v1"
KEY = "sk-test-0123456789"
REQ = LLMRequest(model="gpt-test", prompt="Say hi.")


def completion(text: str = "Hi!", finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test-2026",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture(scope="module")
def http_client() -> Iterator[httpx.Client]:
    """One client for the module: making one loads the TLS certificates, which is slow."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def provider(http_client: httpx.Client) -> OpenAIProvider:
    return OpenAIProvider(api_key=KEY, base_url=BASE_URL, http_client=http_client)


def answer_with(api: respx.MockRouter, response: httpx.Response | None = None, **kwargs: Any) -> respx.Route:
    route = api.post("/chat/completions")
    return route.mock(return_value=response, **kwargs) if response is not None else route.mock(**kwargs)


def assert_names_provider_and_status(error: BaseException, provider: str, status: int) -> None:
    """str(error) names the provider and the status: the facts of an error for a status, whatever the wording."""
    text = str(error)
    assert provider in text and re.search(rf"(?<![0-9]){status}(?![0-9])", text), (
        f"expected the message of the error for HTTP {status} from {provider!r} to name the provider and the status "
        f"(as in the stub's `described`), got {type(error).__name__}: {text!r}"
    )


def raised_by(provider: http_module.HTTPProvider, req: LLMRequest = REQ, timeout_s: float = 10.0) -> BaseException:
    try:
        got = provider.complete(req, timeout_s=timeout_s)
    except NotImplementedError:
        raise
    except Exception as exc:  # the test inspects what was raised
        return exc
    pytest.fail(f"expected an exception, got a response: {got!r}")


# -- the request --------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_request_body_has_the_messages_and_settings(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    route = answer_with(api, httpx.Response(200, json=completion()))
    req = LLMRequest(
        model="gpt-test", prompt="Say hi.", system_prompt="Be brief.", temperature=0.3, max_tokens=20,
        top_p=0.9, stop=("END",),
    )
    provider.complete(req, timeout_s=10.0)
    assert route.call_count == 1, f"expected one POST to {BASE_URL}/chat/completions, got {route.call_count}"
    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert body["model"] == "gpt-test", f"expected model 'gpt-test' in the body, got {body.get('model')!r}"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi."},
    ], f"expected a system message then the user message, got {body.get('messages')!r}"
    expected = {"temperature": 0.3, "max_tokens": 20, "top_p": 0.9, "stop": ["END"]}
    got = {name: body.get(name) for name in expected}
    assert got == expected, f"expected the settings {expected} in the body, got {got}"
    assert sent.headers["content-type"].startswith("application/json"), "expected a JSON body"
    provider.complete(REQ, timeout_s=10.0)
    plain = json.loads(route.calls.last.request.content)
    assert plain["messages"] == [{"role": "user", "content": "Say hi."}], (
        f"expected only the user message for a request without a system prompt, got {plain['messages']!r}"
    )
    assert route.call_count == 2, f"expected one POST per complete(), got {route.call_count} for two calls"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_the_per_attempt_timeout_reaches_httpx(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    route = answer_with(api, httpx.Response(200, json=completion()))
    provider.complete(REQ, timeout_s=7.5)
    timeout = route.calls.last.request.extensions.get("timeout")
    expected = {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert timeout == expected, (
        f"expected httpx to get timeout=timeout_s (7.5 s for connect, read, write and pool), got {timeout}"
    )
    for bad in (-1.0, 0, math.nan):
        with pytest.raises(ValueError, match="timeout_s"):
            provider.complete(REQ, timeout_s=bad)
        assert route.call_count == 1, (
            f"expected complete(timeout_s={bad!r}) to raise ValueError naming timeout_s before anything is sent "
            "(keep check_attempt(req, timeout_s) first), got a request sent"
        )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_the_api_key_is_sent_as_a_bearer_token(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    route = answer_with(api, httpx.Response(200, json=completion()))
    provider.complete(REQ, timeout_s=10.0)
    auth = route.calls.last.request.headers.get("authorization")
    assert auth == f"Bearer {KEY}", f"expected the header 'authorization: Bearer <key>', got {auth!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_missing_key_is_a_configuration_error_at_the_first_call(
    api: respx.MockRouter, http_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    route = answer_with(api, httpx.Response(200, json=completion()))
    keyless = OpenAIProvider(base_url=BASE_URL, http_client=http_client)  # making it must not fail
    with pytest.raises(ConfigurationError):
        keyless.complete(REQ, timeout_s=10.0)
    assert route.call_count == 0, "expected no request to be sent without an API key"
    # A local server (Ollama, vLLM on loopback) needs no key: self.headers() decides, not a check of your own.
    with respx.mock(base_url="http://localhost:11434/v1") as local:
        served = local.post("/chat/completions").mock(return_value=httpx.Response(200, json=completion()))
        on_loopback = OpenAIProvider(base_url="http://localhost:11434/v1", http_client=http_client)
        assert on_loopback.complete(REQ, timeout_s=10.0).text, "expected a keyless call to a loopback server to work"
    assert served.call_count == 1 and "authorization" not in served.calls[0].request.headers


# -- the answer ---------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_200_is_parsed_into_an_llm_response(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    answer_with(api, httpx.Response(200, json=completion("Hello there", finish_reason="length")))
    got = provider.complete(REQ, timeout_s=10.0)
    assert got.text == "Hello there", f"expected the text 'Hello there', got {got.text!r}"
    assert got.finish_reason == "length", f"expected finish_reason 'length', got {got.finish_reason!r}"
    assert got.truncated, "expected finish_reason 'length' to mark the answer as truncated"
    assert got.model == "gpt-test-2026", f"expected the model the provider reported, got {got.model!r}"
    for status in (201, 203):
        answer_with(api, httpx.Response(status, json=completion("Also fine")))
        other = provider.complete(REQ, timeout_s=10.0)
        assert other.text == "Also fine", f"expected HTTP {status} (a success: 2xx) to be parsed, got {other!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_200_that_is_not_json_is_a_malformed_response(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    answer_with(api, httpx.Response(200, text="<html>proxy error</html>"))
    error = raised_by(provider)
    assert isinstance(error, MalformedResponseError), (
        f"expected MalformedResponseError for an HTML page with status 200, got {type(error).__name__}: {error}"
    )


# -- errors from the status ---------------------------------------------------------------


def assert_invalid_request(api: respx.MockRouter, provider: OpenAIProvider, status: int) -> None:
    answer_with(api, httpx.Response(status, json=error_body("max_tokens is too large")))
    error = raised_by(provider)
    assert isinstance(error, InvalidRequestError), (
        f"expected InvalidRequestError for HTTP {status} (fix the request; never retried), got {type(error).__name__}"
    )
    assert error.status_code == status, f"expected status_code {status}, got {error.status_code!r}"
    assert error.provider_message == "max_tokens is too large", (
        f"expected the provider's message from the error body, got {error.provider_message!r}"
    )
    assert not error.retryable, f"expected the error for HTTP {status} (a client error) not to be retryable"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_client_errors_are_invalid_request_errors(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    for status in (400, 404, 422):
        assert_invalid_request(api, provider, status)


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_every_other_4xx_is_a_non_retryable_invalid_request_error(
    api: respx.MockRouter, provider: OpenAIProvider
) -> None:
    # Only 401, 403, 408, 409 and 429 have a meaning of their own; any other 4xx says the request is wrong.
    for status in (405, 410, 413, 415, 418, 431, 451, 499):
        assert_invalid_request(api, provider, status)


@pytest.mark.points(1)
@pytest.mark.hint(2)
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_authentication_errors(api: respx.MockRouter, provider: OpenAIProvider, status: int) -> None:
    answer_with(api, httpx.Response(status, json=error_body("Incorrect API key provided")))
    error = raised_by(provider)
    assert isinstance(error, AuthenticationError), (
        f"expected AuthenticationError for HTTP {status}, got {type(error).__name__}: {error}"
    )
    assert error.status_code == status, f"expected status_code {status}, got {error.status_code!r}"
    assert error.provider_message == "Incorrect API key provided", (
        f"expected the provider's message, got {error.provider_message!r}"
    )


def _stand_in_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Exercise 4's parser, replaced so this exercise does not depend on it."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        return float(lowered["retry-after-ms"]) / 1000.0
    value = lowered.get("retry-after")
    return float(value) if value is not None else None


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_429_is_a_rate_limit_error_with_retry_after(
    api: respx.MockRouter, provider: OpenAIProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_module, "parse_retry_after", _stand_in_retry_after)
    with contextlib.suppress(Exception):  # exercise 4's file may not even import; this exercise must not need it
        monkeypatch.setattr("llm_client.retry_after.parse_retry_after", _stand_in_retry_after)
    answer_with(api, httpx.Response(429, headers={"retry-after": "3"}, json=error_body("Rate limit reached")))
    error = raised_by(provider)
    assert isinstance(error, RateLimitError), f"expected RateLimitError for HTTP 429, got {type(error).__name__}"
    assert error.retry_after == 3.0, f"expected retry_after 3.0 from 'Retry-After: 3', got {error.retry_after!r}"
    assert error.status_code == 429, f"expected status_code 429, got {error.status_code!r}"
    assert error.provider_message == "Rate limit reached", (
        f"expected the provider's message, got {error.provider_message!r}"
    )
    for headers, expected in (({"retry-after-ms": "1500"}, 1.5), ({}, None)):
        answer_with(api, httpx.Response(429, headers=headers, json=error_body("Rate limit reached")))
        error = raised_by(provider)
        assert isinstance(error, RateLimitError) and error.retry_after == expected, (
            f"expected a RateLimitError with retry_after {expected!r} for a 429 with headers {headers}, got "
            f"{type(error).__name__} with retry_after {getattr(error, 'retry_after', None)!r} "
            "(read the wait with parse_retry_after(response.headers))"
        )


@pytest.mark.points(1)
@pytest.mark.hint(2)
@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_are_retryable_server_errors(
    api: respx.MockRouter, provider: OpenAIProvider, status: int
) -> None:
    answer_with(api, httpx.Response(status, json=error_body("The server is overloaded")))
    error = raised_by(provider)
    assert isinstance(error, ServerError), (
        f"expected ServerError for HTTP {status}, got {type(error).__name__}: {error}"
    )
    assert error.status_code == status, f"expected status_code {status}, got {error.status_code!r}"
    assert error.retryable, "expected a server error to be retryable"
    assert error.provider_message == "The server is overloaded", (
        f"expected the provider's message from the error body, got {error.provider_message!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
@pytest.mark.parametrize(
    ("status", "expected", "why"),
    [
        (408, LLMTimeoutError, "the server timed out waiting for you"),
        (409, ServerError, "the provider's trouble, usually brief"),
    ],
    ids=["408", "409"],
)
def test_408_and_409_are_retryable_errors(
    api: respx.MockRouter,
    provider: OpenAIProvider,
    status: int,
    expected: type[ServerError | LLMTimeoutError],
    why: str,
) -> None:
    answer_with(api, httpx.Response(status, json=error_body("Please try again")))
    error = raised_by(provider)
    assert isinstance(error, expected), (
        f"expected {expected.__name__} for HTTP {status} ({why}; retried), got {type(error).__name__}: {error}"
    )
    assert error.status_code == status, f"expected status_code {status}, got {error.status_code!r}"
    assert error.retryable, f"expected the error for HTTP {status} to be retryable"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_an_unexpected_status_is_a_malformed_response(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    # Only a 2xx is an answer: a 1xx is not, even carrying a completion's body; 600 and above are no status the
    # table names (not 5xx). A 3xx is a RedirectError, refused before the table.
    unexpected = [httpx.Response(status, json=completion()) for status in (103, 199)]
    unexpected += [httpx.Response(status, json=error_body("odd")) for status in (600, 999)]
    answer_with(api, side_effect=unexpected)
    for response in unexpected:
        status = response.status_code
        error = raised_by(provider)
        assert isinstance(error, MalformedResponseError), (
            f"expected MalformedResponseError for HTTP {status} (not a success (only a 2xx is) and not a status the "
            f"table names: something odd), got {type(error).__name__}: {error}"
        )
        assert error.status_code == status, f"expected status_code {status}, got {error.status_code!r}"
        assert_names_provider_and_status(error, "openai", status)


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_complete_raises_error_for_response_which_reads_quota_and_x_should_retry(
    api: respx.MockRouter, provider: OpenAIProvider, http_client: httpx.Client
) -> None:
    # error_for_response refines error_for_status's table: a quota 429, and x-should-retry (read without
    # exercise 4's file, which this exercise must not need).
    quota = {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    answer_with(api, httpx.Response(429, json=quota))
    error = raised_by(provider)
    assert isinstance(error, QuotaExceededError), (
        f"expected QuotaExceededError for a 429 whose body says insufficient_quota (waiting will not lift it), got "
        f"{type(error).__name__}: {error} (raise error_for_response(response, ...) for a non-2xx, not "
        "error_for_status: it adds what the headers and body say)"
    )
    answer_with(api, httpx.Response(503, headers={"x-should-retry": "false"}, json=error_body("Overloaded")))
    error = raised_by(provider)
    assert isinstance(error, ServerError) and error.retryable is False, (
        f"expected a ServerError that is not retryable for a 503 with 'x-should-retry: false', got "
        f"{type(error).__name__} with retryable {getattr(error, 'retryable', None)!r} (raise "
        "error_for_response(response, ...) for a non-2xx, not error_for_status)"
    )
    assert_names_provider_and_status(error, "openai", 503)
    # Each provider's errors name that provider (provider=self.name): an AnthropicProvider's say "anthropic".
    with respx.mock(base_url="https://anthropic.example.test") as anthropic_api:
        anthropic_api.post("/v1/messages").mock(return_value=httpx.Response(529, json=error_body("Overloaded")))
        claude = AnthropicProvider(api_key=KEY, base_url="https://anthropic.example.test", http_client=http_client)
        error = raised_by(claude)
    assert isinstance(error, ServerError), f"expected ServerError for an Anthropic 529, got {type(error).__name__}"
    assert_names_provider_and_status(error, "anthropic", 529)


# -- errors from the network --------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(3)
@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout, httpx.PoolTimeout])
def test_timeouts_become_llm_timeout_errors_chained_to_httpx(
    api: respx.MockRouter, provider: OpenAIProvider, exc_type: type[httpx.TimeoutException]
) -> None:
    answer_with(api, side_effect=exc_type("timed out"))
    error = raised_by(provider)
    assert isinstance(error, LLMTimeoutError), (
        f"expected LLMTimeoutError for {exc_type.__name__}, got {type(error).__name__}"
    )
    assert isinstance(error.__cause__, exc_type), (
        f"expected the httpx exception as __cause__ (raise ... from exc), got {error.__cause__!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_connection_errors_become_llm_connection_errors_chained_to_httpx(
    api: respx.MockRouter, provider: OpenAIProvider
) -> None:
    answer_with(api, side_effect=httpx.ConnectError("connection refused"))
    error = raised_by(provider)
    assert isinstance(error, LLMConnectionError), (
        f"expected LLMConnectionError for httpx.ConnectError, got {type(error).__name__}: {error}"
    )
    assert isinstance(error.__cause__, httpx.ConnectError), (
        f"expected the httpx exception as __cause__ (raise ... from exc), got {error.__cause__!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_an_unsupported_protocol_is_a_configuration_error_never_retried(
    api: respx.MockRouter, provider: OpenAIProvider
) -> None:
    # OpenAIProvider refuses a base_url that is not http(s) when it is made; httpx raises
    # UnsupportedProtocol for a URL it cannot send to (here mocked, as for "ftp://...").
    answer_with(api, side_effect=httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."))
    error = raised_by(provider)
    assert isinstance(error, ConfigurationError), (
        "expected ConfigurationError for httpx.UnsupportedProtocol (a bad base_url will not heal, so it is "
        f"never retried), got {type(error).__name__}: {error}"
    )
    assert not error.retryable, "expected the error for httpx.UnsupportedProtocol not to be retryable"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_any_other_httpx_error_is_a_connection_error_and_a_bug_is_raised_unchanged(
    api: respx.MockRouter, provider: OpenAIProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    for failure in (
        httpx.ReadError("connection reset"), httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("server disconnected"), httpx.ProxyError("proxy refused"),
        httpx.DecodingError("bad gzip"), httpx.TooManyRedirects("redirected 20 times"),
    ):
        answer_with(api, side_effect=failure)
        error = raised_by(provider)
        assert isinstance(error, LLMConnectionError), (
            f"expected an LLMConnectionError for {type(failure).__name__} (every httpx.HTTPError is the provider's "
            f"failure; any that is neither a timeout nor an unsupported URL is a connection error), got "
            f"{type(error).__name__}: {error}"
        )
        assert error.__cause__ is failure, (
            f"expected the {type(failure).__name__} as __cause__ (raise ... from exc), got {error.__cause__!r}"
        )
    answer_with(api, side_effect=ValueError("a bug in the transport"))
    bug = raised_by(provider)
    assert type(bug) is ValueError, (
        f"expected a ValueError raised below complete() to reach the caller unchanged (a bug is not a network "
        f"failure: catch httpx.HTTPError only), got {type(bug).__name__}: {bug}"
    )
    answer_with(api, httpx.Response(200, json=completion()))
    def buggy_parse(response: httpx.Response) -> None:
        raise KeyError("a bug in parse")

    monkeypatch.setattr(provider, "parse", buggy_parse)
    parse_bug = raised_by(provider)
    assert type(parse_bug) is KeyError, (
        f"expected a KeyError raised by parse to reach the caller unchanged, got {type(parse_bug).__name__}: "
        f"{parse_bug}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_one_complete_sends_exactly_one_request(api: respx.MockRouter, provider: OpenAIProvider) -> None:
    # Retrying is the client's job: complete() makes one attempt, whatever happens to it.
    outcomes: list[httpx.Response | Exception] = [
        httpx.Response(503, json=error_body("overloaded")), httpx.Response(500), httpx.Response(502, text="<html>"),
        httpx.ReadTimeout("timed out"), httpx.ConnectTimeout("timed out"), httpx.ConnectError("refused"),
    ]
    for outcome in outcomes:
        if isinstance(outcome, httpx.Response):
            route, what = answer_with(api, outcome), f"HTTP {outcome.status_code}"
        else:
            route, what = answer_with(api, side_effect=outcome), type(outcome).__name__
        before = route.call_count
        error = raised_by(provider)
        assert isinstance(error, LLMError) and error.retryable, (
            f"expected a retryable LLMError for {what}, got {type(error).__name__}: {error}"
        )
        sent = route.call_count - before
        assert sent == 1, (
            f"expected exactly one request for one complete() that met {what}, got {sent} "
            "(no retrying or sleeping inside complete(): the client retries)"
        )


def key_shown_in(error: BaseException) -> list[str]:
    """Where ``error`` shows the API key: its str, repr, args or provider_message."""
    shown = {
        "str": str(error), "repr": repr(error), "args": repr(getattr(error, "args", ())),
        "provider_message": str(getattr(error, "provider_message", "")),
    }
    return [where for where, text in shown.items() if KEY in text]


def assert_raised_without_the_key(provider: OpenAIProvider, met: str, advice: str) -> None:
    """complete() must raise an LLMError that shows the API key nowhere, after meeting ``met``."""
    error = raised_by(provider)
    leaks = key_shown_in(error)
    assert isinstance(error, LLMError) and not leaks, (
        f"expected an LLMError that never holds the API key for {met}, got {type(error).__name__} with the key "
        f"in its {', '.join(leaks) or 'type'} ({advice})"
    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_the_api_key_never_appears_in_an_error_from_the_server_or_the_network(
    api: respx.MockRouter, provider: OpenAIProvider
) -> None:
    # The request carries "Authorization: Bearer <key>": an error built from it must not repeat it.
    signed = httpx.Request("POST", f"{BASE_URL}/chat/completions", headers={"Authorization": f"Bearer {KEY}"})
    failures: list[Callable[[httpx.Request], httpx.HTTPError]] = [
        lambda request: httpx.ConnectError("connection refused", request=request),
        lambda request: httpx.ReadError("connection reset", request=request),
        lambda request: httpx.RemoteProtocolError("server disconnected", request=request),
        lambda request: httpx.ReadTimeout("timed out", request=request),
        lambda request: httpx.ConnectTimeout("timed out", request=request),
    ]
    for failure in failures:
        exc = failure(signed)
        direct = error_for_transport(exc, provider="openai")
        leaks = key_shown_in(direct)
        assert not leaks, (
            f"expected error_for_transport's error for {type(exc).__name__} never to hold the API key, got it in "
            f"its {', '.join(leaks)} (never put the request or its headers in a message)"
        )

        def fail(request: httpx.Request, failure: Callable[[httpx.Request], httpx.HTTPError] = failure) -> None:
            raise failure(request)

        answer_with(api, side_effect=fail)
        assert_raised_without_the_key(
            provider, f"{type(exc).__name__} from complete()", "never put the request or its headers in a message"
        )
    bodies = [
        {"json": error_body(f"Incorrect API key provided: {KEY}. You can find your key at ...")},
        {"json": {"error": f"bad key {KEY}"}},
        {"text": f"<html>401: Bearer {KEY} is not valid</html>"},
    ]
    for status in (400, 401, 404, 503):
        for body in bodies:
            answer_with(api, httpx.Response(status, **body))  # type: ignore[arg-type]
            assert_raised_without_the_key(
                provider,
                f"an HTTP {status} whose body echoes it",
                "build messages from provider_message(response), which redacts it, never from the raw body",
            )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_error_for_status_and_error_for_transport_return_their_errors() -> None:
    expected_by_status = {
        400: InvalidRequestError, 401: AuthenticationError, 403: AuthenticationError, 404: InvalidRequestError,
        408: LLMTimeoutError, 409: ServerError, 422: InvalidRequestError,
        500: ServerError, 502: ServerError, 503: ServerError, 529: ServerError, 599: ServerError,
        600: MalformedResponseError, 999: MalformedResponseError,
    }
    for index, (status, expected) in enumerate(expected_by_status.items()):
        message = f"demo message for {status}"
        response = httpx.Response(status, json={"error": {"message": message}})
        name = ("openai", "anthropic", "acme")[index % 3]
        error = error_for_status(response, provider=name)
        assert isinstance(error, expected), (
            f"expected error_for_status to return {expected.__name__} for HTTP {status}, got {error!r}"
        )
        assert error.status_code == status and error.provider_message == message, (
            f"expected status_code {status} and provider_message {message!r} for HTTP {status}, got "
            f"{error.status_code!r} and {error.provider_message!r}"
        )
        assert_names_provider_and_status(error, name, status)
    request = httpx.Request("POST", f"{BASE_URL}/chat/completions")
    transport_cases: list[tuple[httpx.HTTPError, type[Exception]]] = [
        (httpx.ConnectTimeout("timed out connecting", request=request), LLMTimeoutError),
        (httpx.ReadTimeout("timed out reading", request=request), LLMTimeoutError),
        (httpx.ConnectError("connection refused", request=request), LLMConnectionError),
        (httpx.RemoteProtocolError("server disconnected", request=request), LLMConnectionError),
        (httpx.UnsupportedProtocol("no scheme", request=request), ConfigurationError),
    ]
    for exc, wanted in transport_cases:
        got = error_for_transport(exc, provider="openai")
        assert isinstance(got, wanted), (
            f"expected error_for_transport to return {wanted.__name__} for {type(exc).__name__}, got {got!r}"
        )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_a_400_is_one_request_and_an_error_the_client_never_retries(
    api: respx.MockRouter, provider: OpenAIProvider
) -> None:
    route = answer_with(api, httpx.Response(400, json=error_body("bad model")))
    error = raised_by(provider)
    assert isinstance(error, InvalidRequestError), f"expected InvalidRequestError for a 400, got {error!r}"
    assert not error.retryable, "expected the error for a 400 not to be retryable (the request itself is wrong)"
    assert route.call_count == 1, f"expected exactly one request for a 400, got {route.call_count}"
