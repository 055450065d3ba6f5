"""The client against mock LLM servers someone else wrote, not only the kit's own loopback servers.

Two packages from PyPI, pinned in requirements-dev.txt, each pure Python and each speaking both
protocols (OpenAI Chat Completions and Anthropic Messages), started here as subprocesses on
127.0.0.1 with a free port, stopped (then killed if need be) when the module ends:

- **llmock** ("chaos engineering for LLM apps") scripts each fault over its control API
  (``POST /_llmock/scenario``): a status, its ``Retry-After`` (sent as ``retry-after`` in whole
  seconds and ``retry-after-ms``), the error's message and code, a reply's text and finish reason;
  its journal (``GET /_llmock/requests``) says how many attempts reached it and what each carried.
- **fakellm** ("drop-in replacement for OpenAI and Anthropic APIs") answers from YAML rules
  matched on the prompt and on the turn of a conversation: a second, independent reading of both
  wire formats (its empty Anthropic answer is ``content: []``, llmock's a text block of ``""``).

Every call goes through ``LLMClient``/``AsyncLLMClient`` with the real ``OpenAIProvider`` and
``AnthropicProvider`` over real sockets; sleeps are recorded, never waited. A package that is not
installed, or a server that does not start, is a skip naming the reason (see tests/kit/third_party.py).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from third_party import RunningServer, require, start_server

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    AuthenticationError,
    ContentRefusedError,
    InvalidRequestError,
    LLMClient,
    LLMRequest,
    MemoryCache,
    OpenAIProvider,
    RetriesExhaustedError,
    ServerError,
    TruncatedAnswerWarning,
)
from llm_client.providers import LLMResponse

pytestmark = [pytest.mark.kit, pytest.mark.timeout(90)]

#: Sent as the key on every call; the servers are scripted to echo it back in their error messages.
KEY = "sk-3rdparty-KEY-4e1d9c0b7a2f5d83"
ANSWER = "Paris is the capital of France."
BACKOFF_CAP_S = 8.0


@dataclass(frozen=True)
class Protocol:
    name: str
    model: str
    stop: str  # the finish reason of a normal end
    usage: tuple[str, str]  # the usage counts the answer carries

    def provider(self, base_url: str) -> OpenAIProvider | AnthropicProvider:
        if self.name == "openai":
            return OpenAIProvider(base_url=base_url, api_key=KEY)
        return AnthropicProvider(base_url=base_url, api_key=KEY)


OPENAI = Protocol("openai", "gpt-4o-mini", "stop", ("prompt_tokens", "completion_tokens"))
ANTHROPIC = Protocol("anthropic", "claude-3-5-haiku-20241022", "end_turn", ("input_tokens", "output_tokens"))


@pytest.fixture(params=[OPENAI, ANTHROPIC], ids=lambda p: p.name)
def protocol(request: pytest.FixtureRequest) -> Protocol:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def run(
    mode: str,
    provider: OpenAIProvider | AnthropicProvider,
    req: LLMRequest,
    *,
    slept: list[float],
    calls: int = 1,
    **settings: Any,
) -> list[LLMResponse]:
    """``calls`` calls of ``req`` through one client (LLMClient or AsyncLLMClient), sleeps recorded in ``slept``."""
    settings = {"timeout_s": 10.0, **settings}
    if mode == "sync":
        with LLMClient(provider, sleep=slept.append, **settings) as client:
            return [client.call_response(req) for _ in range(calls)]

    async def record(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> list[LLMResponse]:
        async with AsyncLLMClient(provider, sleep=record, **settings) as client:
            return [await client.call_response(req) for _ in range(calls)]

    return asyncio.run(main())


def leaks(text: str) -> bool:
    return KEY in text or KEY[8:] in text  # the key, or a long enough piece of it


def assert_no_key_in(error: BaseException) -> None:
    for text in (str(error), repr(error), "".join(traceback.format_exception(error))):
        assert not leaks(text), text
    for value in vars(error).values():
        assert not leaks(repr(value))


# -- llmock -----------------------------------------------------------------------------------------


class Llmock:
    """llmock's control API: script the next answers, read what reached it."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server

    def base_url(self, protocol: Protocol) -> str:
        return self.server.origin + ("/v1" if protocol.name == "openai" else "/anthropic")

    def script(self, *behaviors: dict[str, Any]) -> None:
        self.server.control("POST", "/_llmock/scenario", {"behaviors": list(behaviors)})

    def requests(self) -> list[dict[str, Any]]:
        return list(self.server.control("GET", "/_llmock/requests")["requests"])

    def statuses(self) -> list[int]:
        return [record["status"] for record in self.requests()]


@pytest.fixture(scope="module")
def llmock_loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    require("llmock", "llmock")
    log = tmp_path_factory.mktemp("llmock") / "server.log"
    server = start_server(
        "llmock", "llmock.cli",
        ["serve", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning", "--response-style", "static"],
        ready_path="/health", log=log,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llmock_api(llmock_loopback: RunningServer) -> Llmock:
    """The running llmock, its journal and queued behaviours forgotten."""
    mock = Llmock(llmock_loopback)
    llmock_loopback.control("POST", "/_llmock/reset")
    return mock


def test_llmock_a_plain_answer_has_its_text_finish_reason_and_usage(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "reply", "text": ANSWER})
    req = LLMRequest(model=protocol.model, prompt="Name the capital of France.", system_prompt="Answer briefly.")
    slept: list[float] = []
    [response] = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, slept=slept)
    assert response.text == ANSWER
    assert response.finish_reason == protocol.stop
    assert response.model == protocol.model
    assert set(protocol.usage) <= set(response.usage)
    assert all(isinstance(response.usage[name], int) for name in protocol.usage)
    assert not response.from_cache and slept == []
    [record] = llmock_api.requests()
    assert (record["provider"], record["status"], record["model"]) == (protocol.name, 200, protocol.model)
    body = record["body"]
    if protocol.name == "openai":
        assert body["messages"] == [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Name the capital of France."},
        ]
    else:
        assert body["system"] == "Answer briefly."
        assert body["messages"] == [{"role": "user", "content": "Name the capital of France."}]
        assert isinstance(body["max_tokens"], int)


@pytest.mark.parametrize(("retry_after", "expected"), [(2, 2.0), (0.25, 0.25)], ids=["2s", "250ms"])
def test_llmock_a_429_is_retried_after_exactly_the_wait_it_asks_for(
    llmock_api: Llmock, protocol: Protocol, mode: str, retry_after: float, expected: float
) -> None:
    # llmock sends both ``retry-after`` (whole seconds, rounded up: 1 for 0.25) and ``retry-after-ms``;
    # the client reads the milliseconds first, as the official SDKs do.
    llmock_api.script({"type": "fail", "status": 429, "retry_after": retry_after}, {"type": "reply", "text": ANSWER})
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="hello")
    [response] = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, slept=slept)
    assert response.text == ANSWER
    assert slept == [expected]
    assert llmock_api.statuses() == [429, 200]


def test_llmock_a_500_then_a_503_are_retried_and_the_answer_follows(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script(
        {"type": "fail", "status": 500}, {"type": "fail", "status": 503}, {"type": "reply", "text": ANSWER}
    )
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="hello")
    [response] = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, slept=slept, max_retries=2)
    assert response.text == ANSWER
    assert llmock_api.statuses() == [500, 503, 200]
    # The 500 carries no Retry-After: backoff. llmock's 503 carries ``Retry-After: 1``, slept exactly.
    assert len(slept) == 2
    assert 0.0 <= slept[0] <= BACKOFF_CAP_S
    assert slept[1] == 1.0


def test_llmock_a_503_that_persists_ends_in_retries_exhausted_with_the_status(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "fail", "status": 503, "times": None, "message": "The service is down for maintenance."})
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="hello")
    with pytest.raises(RetriesExhaustedError) as caught:
        run(mode, protocol.provider(llmock_api.base_url(protocol)), req, slept=slept, max_retries=2)
    error = caught.value
    assert error.attempts == 3
    assert type(error.last_error) is ServerError and error.__cause__ is error.last_error
    assert error.last_error.status_code == 503
    assert error.last_error.provider_message == "The service is down for maintenance."
    assert llmock_api.statuses() == [503, 503, 503]
    assert slept == [1.0, 1.0]  # llmock's Retry-After on a 503; none after the last attempt


@pytest.mark.parametrize(
    ("status", "error_class", "message", "expected_message"),
    [
        (401, AuthenticationError, f"Incorrect API key provided: {KEY}.", "Incorrect API key provided: "),
        (403, AuthenticationError, "Your organization has no access to this model.", "Your organization has no"),
        (400, InvalidRequestError, "max_tokens: 100000 > 8192, the maximum for this model", "max_tokens: 100000"),
        (404, InvalidRequestError, "The model `gpt-9` does not exist.", "The model `gpt-9` does not exist."),
    ],
    ids=["401", "403", "400", "404"],
)
def test_llmock_a_client_error_is_raised_at_once_with_the_servers_message(
    llmock_api: Llmock,
    protocol: Protocol,
    mode: str,
    status: int,
    error_class: type[InvalidRequestError],
    message: str,
    expected_message: str,
) -> None:
    llmock_api.script({"type": "fail", "status": status, "message": message, "times": None})
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="hello")
    with pytest.raises(InvalidRequestError) as caught:
        run(mode, protocol.provider(llmock_api.base_url(protocol)), req, slept=slept, max_retries=3)
    error = caught.value
    assert type(error) is error_class and not error.retryable
    assert error.status_code == status
    assert error.provider_message is not None and error.provider_message.startswith(expected_message)
    assert expected_message in str(error)
    assert_no_key_in(error)  # the 401's message quotes the key back
    assert llmock_api.statuses() == [status]  # tried once
    assert slept == []


def test_llmock_a_529_overloaded_is_a_retryable_server_error(llmock_api: Llmock, protocol: Protocol, mode: str) -> None:
    provider_url = llmock_api.base_url(protocol)
    req = LLMRequest(model=protocol.model, prompt="hello")
    llmock_api.script({"type": "fail", "status": 529, "times": 2})
    slept: list[float] = []
    with pytest.raises(RetriesExhaustedError) as caught:
        run(mode, protocol.provider(provider_url), req, slept=slept, max_retries=1)
    error = caught.value.last_error
    assert type(error) is ServerError and error.retryable and error.status_code == 529
    # llmock's own names: Anthropic's ``overloaded_error``; on the OpenAI path ``server_error``/``overloaded``.
    if protocol.name == "anthropic":
        assert error.error_type == "overloaded_error"
    else:
        assert (error.error_type, error.error_code) == ("server_error", "overloaded")
    assert slept == [1.0] and llmock_api.statuses() == [529, 529]

    llmock_api.server.control("POST", "/_llmock/reset")
    llmock_api.script({"type": "fail", "status": 529}, {"type": "reply", "text": ANSWER})
    slept = []
    [response] = run(mode, protocol.provider(provider_url), req, slept=slept, max_retries=1)
    assert response.text == ANSWER and slept == [1.0] and llmock_api.statuses() == [529, 200]


def test_llmock_an_answer_slower_than_the_timeout_is_a_timeout_and_is_retried(
    llmock_api: Llmock, protocol: Protocol, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The first request is held 5 s by the server; the attempt gives up at its timeout, the retry is answered.
    llmock_api.script({"type": "delay", "seconds": 5}, {"type": "reply", "text": ANSWER, "times": 2})
    caplog.set_level(logging.WARNING, logger="llm_client")
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="hello")
    provider = protocol.provider(llmock_api.base_url(protocol))
    [response] = run(mode, provider, req, slept=slept, max_retries=1, timeout_s=0.75)
    assert response.text == ANSWER
    assert len(slept) == 1
    failed = [record.getMessage() for record in caplog.records if "llm.attempt_failed" in record.getMessage()]
    assert len(failed) == 1 and "error_type=LLMTimeoutError" in failed[0]


def test_llmock_an_empty_answer_is_the_empty_string_and_is_cached(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "reply", "text": ""})
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="Say nothing.")
    provider = protocol.provider(llmock_api.base_url(protocol))
    first, second = run(mode, provider, req, slept=slept, cache=MemoryCache(), calls=2)
    assert (first.text, first.from_cache) == ("", False)
    assert (second.text, second.from_cache) == ("", True)
    assert llmock_api.statuses() == [200]


def test_llmock_a_truncated_answer_warns_and_is_not_cached_and_a_filtered_one_is_refused(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    url = llmock_api.base_url(protocol)
    llmock_api.script({"type": "reply", "text": "Paris is the capital", "finish_reason": "length", "times": 2})
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="Name the capital of France.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = run(mode, protocol.provider(url), req, slept=slept, cache=MemoryCache(), calls=2)
    assert first.text == second.text == "Paris is the capital"
    assert first.truncated and not second.from_cache
    assert sum(issubclass(w.category, TruncatedAnswerWarning) for w in caught) == 2
    assert llmock_api.statuses() == [200, 200]

    llmock_api.server.control("POST", "/_llmock/reset")
    llmock_api.script({"type": "reply", "text": "Here is how to", "finish_reason": "content_filter", "times": None})
    with pytest.raises(ContentRefusedError):
        run(mode, protocol.provider(url), req, slept=slept, cache=MemoryCache(), max_retries=3)
    assert llmock_api.statuses() == [200]  # a refusal is never retried
    assert slept == []


def test_llmock_the_key_a_server_echoes_reaches_no_error_or_log_record(
    llmock_api: Llmock, protocol: Protocol, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the client's own records and httpx's and httpcore's
    url = llmock_api.base_url(protocol)
    req = LLMRequest(model=protocol.model, prompt="hello")
    echo = f"Request from key {KEY} rejected"
    llmock_api.script(
        {"type": "fail", "status": 429, "retry_after": 0, "message": echo},
        {"type": "fail", "status": 500, "message": echo},
        {"type": "fail", "status": 529, "message": echo, "code": KEY},
    )
    slept: list[float] = []
    with pytest.raises(RetriesExhaustedError) as exhausted:
        run(mode, protocol.provider(url), req, slept=slept, max_retries=2)
    assert llmock_api.statuses() == [429, 500, 529]
    llmock_api.script({"type": "fail", "status": 401, "message": echo, "code": KEY})
    with pytest.raises(AuthenticationError) as refused:
        run(mode, protocol.provider(url), req, slept=slept)
    for error in (exhausted.value, exhausted.value.last_error, refused.value):
        assert_no_key_in(error)
    assert "rejected" in str(refused.value)  # the message is kept, the key cut out of it
    records = caplog.records
    assert any(record.name == "llm_client" for record in records)
    assert any(record.name.startswith("httpx") for record in records)
    for record in records:
        text = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
        assert not leaks(text), text
        assert not leaks(repr(vars(record)))


# -- fakellm ----------------------------------------------------------------------------------------

#: fakellm's rules, matched top to bottom on the prompt (and on the turn of a conversation, which it
#: counts per first user message; ``POST /_fakellm/reset`` starts every conversation again).
FAKELLM_RULES = f"""\
version: 1
rules:
  - name: plain
    when: {{messages_contain: "fk-plain"}}
    respond: {{content: "{ANSWER}"}}
  - name: flaky-first
    when: {{messages_contain: "fk-flaky", turn: 1}}
    respond: {{status: 500, error: "upstream hiccup"}}
  - name: flaky-then
    when: {{messages_contain: "fk-flaky"}}
    respond: {{content: "recovered"}}
  - name: unauthorized
    when: {{messages_contain: "fk-unauthorized"}}
    respond: {{status: 401, error: "Invalid API key {KEY}"}}
  - name: bad-request
    when: {{messages_contain: "fk-bad-request"}}
    respond: {{status: 400, error: "messages: text content blocks must be non-empty"}}
  - name: overloaded
    when: {{messages_contain: "fk-overloaded"}}
    respond: {{status: 529, error: "Overloaded"}}
  - name: down
    when: {{messages_contain: "fk-down"}}
    respond: {{status: 503, error: "Service Unavailable"}}
  - name: empty
    when: {{messages_contain: "fk-empty"}}
    respond: {{content: ""}}
"""


class Fakellm:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self._before = self._by_rule()

    def base_url(self, protocol: Protocol) -> str:
        return self.server.origin + ("/v1" if protocol.name == "openai" else "")

    def _by_rule(self) -> dict[str, int]:
        return dict(self.server.control("GET", "/_fakellm/stats")["by_rule"])

    def hits(self) -> dict[str, int]:
        """How many requests each rule answered since this test began."""
        counts = {rule: count - self._before.get(rule, 0) for rule, count in self._by_rule().items()}
        return {rule: count for rule, count in counts.items() if count}


@pytest.fixture(scope="module")
def fakellm_loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    require("fakellm", "fakellm")
    home: Path = tmp_path_factory.mktemp("fakellm")
    config = home / "fakellm.yaml"
    config.write_text(FAKELLM_RULES)
    server = start_server(
        "fakellm", "fakellm.cli", ["serve", "--host", "127.0.0.1", "--port", "{port}", "--config", str(config)],
        ready_path="/_fakellm/stats", log=home / "server.log",
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fakellm_api(fakellm_loopback: RunningServer) -> Fakellm:
    fakellm_loopback.control("POST", "/_fakellm/reset")
    return Fakellm(fakellm_loopback)


def test_fakellm_a_plain_answer_has_its_text_finish_reason_and_usage(
    fakellm_api: Fakellm, protocol: Protocol, mode: str
) -> None:
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="fk-plain: name the capital of France.")
    [response] = run(mode, protocol.provider(fakellm_api.base_url(protocol)), req, slept=slept)
    assert response.text == ANSWER
    assert response.finish_reason == protocol.stop
    assert response.model == protocol.model
    assert all(isinstance(response.usage.get(name), int) for name in protocol.usage)
    assert fakellm_api.hits() == {"plain": 1} and slept == []


def test_fakellm_a_500_is_retried_and_the_answer_follows(fakellm_api: Fakellm, protocol: Protocol, mode: str) -> None:
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="fk-flaky")
    [response] = run(mode, protocol.provider(fakellm_api.base_url(protocol)), req, slept=slept, max_retries=2)
    assert response.text == "recovered"
    assert fakellm_api.hits() == {"flaky-first": 1, "flaky-then": 1}
    assert len(slept) == 1 and 0.0 <= slept[0] <= BACKOFF_CAP_S  # no Retry-After: backoff


@pytest.mark.parametrize(
    ("prompt", "status", "error_class", "expected_message"),
    [
        ("fk-unauthorized", 401, AuthenticationError, "Invalid API key"),
        ("fk-bad-request", 400, InvalidRequestError, "messages: text content blocks must be non-empty"),
    ],
    ids=["401", "400"],
)
def test_fakellm_a_client_error_is_raised_at_once_with_the_servers_message(
    fakellm_api: Fakellm,
    protocol: Protocol,
    mode: str,
    prompt: str,
    status: int,
    error_class: type[InvalidRequestError],
    expected_message: str,
) -> None:
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt=prompt)
    with pytest.raises(InvalidRequestError) as caught:
        run(mode, protocol.provider(fakellm_api.base_url(protocol)), req, slept=slept, max_retries=3)
    error = caught.value
    assert type(error) is error_class and error.status_code == status
    assert error.provider_message is not None and error.provider_message.startswith(expected_message)
    assert_no_key_in(error)
    assert sum(fakellm_api.hits().values()) == 1 and slept == []


@pytest.mark.parametrize(("prompt", "status", "rule"), [("fk-overloaded", 529, "overloaded"), ("fk-down", 503, "down")])
def test_fakellm_a_529_or_503_that_persists_ends_in_retries_exhausted(
    fakellm_api: Fakellm, protocol: Protocol, mode: str, prompt: str, status: int, rule: str
) -> None:
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt=prompt)
    with pytest.raises(RetriesExhaustedError) as caught:
        run(mode, protocol.provider(fakellm_api.base_url(protocol)), req, slept=slept, max_retries=2)
    assert caught.value.attempts == 3
    error = caught.value.last_error
    assert type(error) is ServerError and error.retryable and error.status_code == status
    assert fakellm_api.hits() == {rule: 3}
    assert len(slept) == 2 and all(0.0 <= s <= BACKOFF_CAP_S for s in slept)


def test_fakellm_an_empty_answer_is_the_empty_string_and_is_cached(
    fakellm_api: Fakellm, protocol: Protocol, mode: str
) -> None:
    # fakellm answers ``content: ""`` on the OpenAI path and ``content: []`` (no block at all) on Anthropic's.
    slept: list[float] = []
    req = LLMRequest(model=protocol.model, prompt="fk-empty")
    url = fakellm_api.base_url(protocol)
    first, second = run(mode, protocol.provider(url), req, slept=slept, cache=MemoryCache(), calls=2)
    assert (first.text, first.from_cache) == ("", False)
    assert (second.text, second.from_cache) == ("", True)
    assert fakellm_api.hits() == {"empty": 1}
