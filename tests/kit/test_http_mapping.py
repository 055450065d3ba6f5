"""Every HTTP outcome mapped onto the error tree (llm_client/providers/http.py), for both HTTP providers."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx
import pytest
import respx
from provider_payloads import (
    ENDPOINTS,
    PROXY_HTML,
    SENTINEL_KEY,
    anthropic_error,
    error_body,
    openai_error,
    success_body,
)

from llm_client import (
    AnthropicProvider,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    OpenAIProvider,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
)
from llm_client._internal.http_support import json_body, provider_message, redact_credentials, resolve_api_key
from llm_client.providers.http import error_for_response, error_for_status, error_for_transport

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="some-model", prompt="Name the capital of France.")
URL = "https://api.example.test/v1/chat/completions"


def response(status: int, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", URL), **kwargs)


# -- error_for_status ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, InvalidRequestError),
        (408, LLMTimeoutError),
        (409, ServerError),
        (413, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (529, ServerError),
        (302, MalformedResponseError),
    ],
)
def test_each_status_maps_to_its_error_class_with_the_status_code(status: int, expected: type[LLMError]) -> None:
    error = error_for_status(response(status, json=openai_error(500, message="why")), provider="openai")
    assert type(error) is expected
    assert error.status_code == status
    assert error.provider_message == "why"
    assert "openai" in str(error) and str(status) in str(error) and "why" in str(error)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (408, True), (429, True), (500, True), (529, True)],
)
def test_only_statuses_that_may_heal_are_retryable(status: int, retryable: bool) -> None:
    assert error_for_status(response(status), provider="p").retryable is retryable


def test_a_429_carries_the_retry_after_of_its_headers() -> None:
    error = error_for_status(response(429, headers={"retry-after": "3"}), provider="p")
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0
    assert error_for_status(response(429), provider="p").retry_after is None  # type: ignore[attr-defined]


# -- error_for_transport ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc_type", "expected"),
    [
        (httpx.ReadTimeout, LLMTimeoutError),
        (httpx.ConnectTimeout, LLMTimeoutError),
        (httpx.WriteTimeout, LLMTimeoutError),
        (httpx.PoolTimeout, LLMTimeoutError),
        (httpx.ConnectError, LLMConnectionError),
        (httpx.ReadError, LLMConnectionError),
        (httpx.RemoteProtocolError, LLMConnectionError),
        (httpx.UnsupportedProtocol, ConfigurationError),
    ],
)
def test_each_transport_failure_maps_to_its_error_class(exc_type: type[httpx.RequestError], expected: type) -> None:
    error = error_for_transport(exc_type("boom", request=httpx.Request("POST", URL)), provider="openai")
    assert type(error) is expected
    assert "openai" in str(error)
    assert error.retryable is (expected is not ConfigurationError)


# -- provider_message, json_body, keys -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (openai_error(400), openai_error(400)["error"]["message"]),
        (anthropic_error(529), "Overloaded"),
        ({"error": "model not loaded"}, "model not loaded"),
        ({"message": "Not Found"}, "Not Found"),
        ({"error": {"message": ""}}, None),
        ({"error": {"code": 500}}, None),
        (["not", "an", "object"], None),
        ({"detail": "Invalid API Key"}, "Invalid API Key"),
        ({"detail": [{"loc": ["body", "model"], "msg": "field required"}, {"msg": "bad"}]}, "field required; bad"),
        ("model is loading", "model is loading"),
    ],
)
def test_provider_message_reads_the_common_error_shapes(body: Any, expected: str | None) -> None:
    assert provider_message(response(400, json=body)) == expected


def test_provider_message_of_a_non_json_body_is_none() -> None:
    assert provider_message(response(502, text=PROXY_HTML)) is None


def test_provider_message_of_a_plain_text_body_is_its_text() -> None:
    plain = response(503, text="upstream overloaded\n", headers={"content-type": "text/plain; charset=utf-8"})
    assert provider_message(plain) == "upstream overloaded"


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (openai_error(400), {"x-request-id": "req_123"}, ("invalid_request_error", "invalid_value", "req_123")),
        (
            {"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}},
            {},
            ("invalid_request_error", "context_length_exceeded", None),
        ),
        (anthropic_error(529), {"request-id": "req_011CSH"}, ("overloaded_error", None, "req_011CSH")),
        ({"detail": "Not authenticated"}, {}, (None, None, None)),
        ({"error": {"message": "m", "code": 42}}, {}, (None, "42", None)),
    ],
    ids=["openai-request-id", "openai-code", "anthropic-overloaded", "fastapi-detail", "numeric-code"],
)
def test_an_error_keeps_the_providers_type_code_and_request_id(
    body: Any, headers: dict[str, str], expected: tuple[str | None, str | None, str | None]
) -> None:
    error = error_for_response(response(expected_status(body), json=body, headers=headers), provider="p")
    assert (error.error_type, error.error_code, error.request_id) == expected


def expected_status(body: Any) -> int:
    kind = body.get("error", {}).get("type") if isinstance(body.get("error"), dict) else None
    return 529 if kind == "overloaded_error" else 400


def test_a_fastapi_401_says_why_in_its_message() -> None:
    error = error_for_response(response(401, json={"detail": "Invalid API Key"}), provider="llama")
    assert isinstance(error, AuthenticationError)
    assert error.provider_message == "Invalid API Key" and "Invalid API Key" in str(error)


def test_a_key_echoed_as_the_error_code_or_request_id_is_redacted() -> None:
    request = httpx.Request("POST", URL, headers={"authorization": f"Bearer {SENTINEL_KEY}"})
    body = {"error": {"message": "no", "type": SENTINEL_KEY, "code": f"bad-{SENTINEL_KEY}"}}
    echoed = httpx.Response(400, json=body, headers={"x-request-id": SENTINEL_KEY}, request=request)
    error = error_for_response(echoed, provider="p")
    assert SENTINEL_KEY not in f"{error.error_type} {error.error_code} {error.request_id}"


def test_an_unusable_2xx_keeps_the_providers_request_id(http: httpx.Client) -> None:
    with respx.mock(base_url="https://api.openai.com/v1") as router:
        router.post("/chat/completions").respond(200, text="<html>oops</html>", headers={"x-request-id": "req_9"})
        with pytest.raises(MalformedResponseError) as caught:
            OpenAIProvider(api_key="sk-test", http_client=http).complete(REQ, timeout_s=5.0)
    assert caught.value.request_id == "req_9"


def test_provider_message_is_cut_to_a_readable_length() -> None:
    message = provider_message(response(400, json={"error": {"message": "x" * 10_000}}))
    assert message is not None and len(message) == 500


@pytest.mark.parametrize(
    ("header", "sent"), [("authorization", f"Bearer {SENTINEL_KEY}"), ("x-api-key", SENTINEL_KEY)]
)
def test_a_key_the_server_echoes_is_redacted_from_its_message(header: str, sent: str) -> None:
    request = httpx.Request("POST", URL, headers={header: sent})
    body = {"error": {"message": f"Incorrect API key provided: {SENTINEL_KEY}"}}
    echoed = httpx.Response(401, json=body, request=request)
    assert provider_message(echoed) == "Incorrect API key provided: [redacted]"
    assert redact_credentials(f"a {SENTINEL_KEY} b", echoed) == "a [redacted] b"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (PROXY_HTML, "not JSON"),
        ('{"choices": [', "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"error": {"message": "quota exceeded"}}', "quota exceeded"),
    ],
)
def test_a_2xx_body_that_is_not_a_usable_object_is_a_malformed_response(content: str, match: str) -> None:
    with pytest.raises(MalformedResponseError, match=match) as caught:
        json_body(response(200, text=content), provider="openai")
    assert caught.value.status_code == 200
    assert caught.value.retryable
    if match == "not JSON":
        assert isinstance(caught.value.__cause__, ValueError)  # the JSON decoder's error stays on the chain


def test_resolve_api_key_prefers_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_TEST_KEY", "from-env")
    assert resolve_api_key("from-arg", "KIT_TEST_KEY") == "from-arg"
    assert resolve_api_key(None, "KIT_TEST_KEY") == "from-env"
    monkeypatch.setenv("KIT_TEST_KEY", "")
    assert resolve_api_key(None, "KIT_TEST_KEY") is None
    monkeypatch.delenv("KIT_TEST_KEY")
    assert resolve_api_key(None, "KIT_TEST_KEY") is None
    assert resolve_api_key("", "KIT_TEST_KEY") is None


# -- both providers, end to end over respx ---------------------------------------------------


@dataclass
class Endpoint:
    name: str
    provider: Any
    route: respx.Route
    http: httpx.Client
    calls: list[float] = field(default_factory=list)

    def client(self, **options: Any) -> LLMClient:
        return LLMClient(self.provider, sleep=self.calls.append, rng=random.Random(0), **options)


def make_provider(name: str, http: httpx.Client, api_key: str = "sk-test") -> Any:
    cls = OpenAIProvider if name == "openai" else AnthropicProvider
    return cls(api_key=api_key, http_client=http)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One real client for the module (making one builds an SSL context: slow); respx mocks its transport."""
    with httpx.Client() as client:
        yield client


@pytest.fixture(params=["openai", "anthropic"])
def endpoint(request: pytest.FixtureRequest, http: httpx.Client) -> Iterator[Endpoint]:
    base_url, path = ENDPOINTS[request.param]
    with respx.mock(base_url=base_url, assert_all_called=False) as router:
        yield Endpoint(request.param, make_provider(request.param, http), router.post(path), http)


def test_a_success_returns_the_text(endpoint: Endpoint) -> None:
    endpoint.route.respond(200, json=success_body(endpoint.name, "Paris."))
    assert endpoint.provider.complete(REQ, timeout_s=5.0).text == "Paris."


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        ({}, None),
    ],
    ids=["seconds", "fractional", "milliseconds", "absent"],
)
def test_a_429_is_a_rate_limit_error_with_the_retry_after_it_sent(
    endpoint: Endpoint, headers: dict[str, str], expected: float | None
) -> None:
    endpoint.route.respond(429, json=error_body(endpoint.name, 429), headers=headers)
    with pytest.raises(RateLimitError) as caught:
        endpoint.provider.complete(REQ, timeout_s=5.0)
    assert caught.value.retry_after == expected
    assert caught.value.status_code == 429
    assert caught.value.provider_message == error_body(endpoint.name, 429)["error"]["message"]


def test_a_429_with_an_http_date_waits_until_that_date(endpoint: Endpoint) -> None:
    endpoint.route.respond(
        429, json=error_body(endpoint.name, 429), headers={"retry-after": formatdate(time.time() + 30, usegmt=True)}
    )
    with pytest.raises(RateLimitError) as caught:
        endpoint.provider.complete(REQ, timeout_s=5.0)
    assert caught.value.retry_after is not None and 27.0 <= caught.value.retry_after <= 30.0


@pytest.mark.parametrize(
    ("headers", "expected_sleep"),
    [({"retry-after": "2"}, 2.0), ({"retry-after": "0.5"}, 0.5), ({"retry-after-ms": "1500"}, 1.5)],
    ids=["seconds", "fractional", "milliseconds"],
)
def test_the_client_sleeps_what_the_429_asked_then_succeeds(
    endpoint: Endpoint, headers: dict[str, str], expected_sleep: float
) -> None:
    endpoint.route.side_effect = [
        httpx.Response(429, json=error_body(endpoint.name, 429), headers=headers),
        httpx.Response(200, json=success_body(endpoint.name, "Paris.")),
    ]
    assert endpoint.client().call(REQ) == "Paris."
    assert endpoint.calls == [expected_sleep]
    assert endpoint.route.call_count == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
def test_server_errors_and_overload_are_retryable_server_errors(endpoint: Endpoint, status: int) -> None:
    content = {"text": PROXY_HTML} if status == 502 else {"json": error_body(endpoint.name, status)}
    endpoint.route.respond(status, **content)
    with pytest.raises(ServerError) as caught:
        endpoint.provider.complete(REQ, timeout_s=5.0)
    assert caught.value.status_code == status
    assert caught.value.retryable


def test_the_client_retries_a_server_error_and_returns_the_next_success(endpoint: Endpoint) -> None:
    endpoint.route.side_effect = [
        httpx.Response(529 if endpoint.name == "anthropic" else 503, json=error_body(endpoint.name, 529)),
        httpx.Response(200, json=success_body(endpoint.name, "Paris.")),
    ]
    assert endpoint.client().call(REQ) == "Paris."
    assert len(endpoint.calls) == 1


@pytest.mark.parametrize(
    ("status", "expected"), [(400, InvalidRequestError), (401, AuthenticationError), (403, AuthenticationError)]
)
def test_client_errors_carry_the_status_and_the_providers_message_and_are_not_retried(
    endpoint: Endpoint, status: int, expected: type[InvalidRequestError]
) -> None:
    body = error_body(endpoint.name, status)
    endpoint.route.respond(status, json=body)
    with pytest.raises(expected) as caught:
        endpoint.client(max_retries=3).call(REQ)
    assert type(caught.value) is expected
    assert caught.value.status_code == status
    assert caught.value.provider_message == body["error"]["message"]
    assert body["error"]["message"] in str(caught.value)
    assert endpoint.route.call_count == 1
    assert endpoint.calls == []


@pytest.mark.parametrize(
    ("side_effect", "expected"),
    [
        (httpx.ReadTimeout, LLMTimeoutError),
        (httpx.ConnectTimeout, LLMTimeoutError),
        (httpx.ConnectError, LLMConnectionError),
        (httpx.RemoteProtocolError, LLMConnectionError),
    ],
)
def test_transport_failures_become_retryable_errors_chained_to_the_httpx_error(
    endpoint: Endpoint, side_effect: type[httpx.HTTPError], expected: type[LLMError]
) -> None:
    endpoint.route.side_effect = side_effect
    with pytest.raises(expected) as caught:
        endpoint.provider.complete(REQ, timeout_s=5.0)
    assert isinstance(caught.value.__cause__, side_effect)
    assert caught.value.retryable


def test_the_client_gives_up_on_repeated_timeouts_with_every_error_an_llm_error(endpoint: Endpoint) -> None:
    endpoint.route.side_effect = httpx.ReadTimeout
    with pytest.raises(RetriesExhaustedError) as caught:
        endpoint.client(max_retries=2).call(REQ)
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, LLMTimeoutError)
    assert isinstance(caught.value.__cause__.__cause__, httpx.ReadTimeout)  # type: ignore[union-attr]
    assert len(endpoint.calls) == 2


def test_the_timeout_of_each_attempt_reaches_httpx(endpoint: Endpoint) -> None:
    endpoint.route.respond(200, json=success_body(endpoint.name))
    endpoint.provider.complete(REQ, timeout_s=4.5)
    assert endpoint.route.calls.last.request.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), 4.5
    )


# -- no key in reprs or error messages -------------------------------------------------------


def test_no_key_appears_in_reprs_or_in_the_errors_of_any_outcome(endpoint: Endpoint) -> None:
    provider = make_provider(endpoint.name, endpoint.http, api_key=SENTINEL_KEY)
    llm = LLMClient(provider, sleep=lambda s: None, max_retries=1)
    echoed = f"Incorrect API key provided: {SENTINEL_KEY}. Check it."
    outcomes: list[Any] = [
        httpx.Response(401, json=error_body(endpoint.name, 401, message=echoed)),
        httpx.Response(400, json={"error": echoed}),
        httpx.Response(500, json={"message": echoed}),
        httpx.Response(200, text=f"<html>{echoed}</html>"),
        httpx.Response(200, json={"error": {"message": echoed}}),
        httpx.ConnectError,
        httpx.ReadTimeout,
    ]
    seen: list[str] = [repr(provider), repr(llm), str(provider)]
    for outcome in outcomes:
        endpoint.route.side_effect = [outcome, outcome]
        with pytest.raises(LLMError) as caught:
            llm.call(REQ)
        seen.append(repr(vars(caught.value)))
        error: BaseException | None = caught.value
        while error is not None:  # the error and everything on its chain, as a traceback shows them
            seen += [str(error), repr(error)]
            error = error.__cause__
    assert endpoint.route.call_count > len(outcomes)
    assert all(SENTINEL_KEY not in text for text in seen)
    assert any("[redacted]" in text for text in seen)


@pytest.mark.parametrize("body", [[f"bad key {SENTINEL_KEY}"], f"bad key {SENTINEL_KEY}"])
def test_a_2xx_json_body_that_is_not_an_object_never_repeats_the_key(body: Any) -> None:
    request = httpx.Request("POST", URL, headers={"authorization": f"Bearer {SENTINEL_KEY}"})
    with pytest.raises(MalformedResponseError, match="not an object") as caught:
        json_body(httpx.Response(200, json=body, request=request), provider="openai")
    assert SENTINEL_KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)
