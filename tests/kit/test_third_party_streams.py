"""Streams from mock LLM servers someone else wrote: the servers of test_third_party_servers.py, streaming.

Both servers are started and stopped as that file does (its fixtures, reused here: a module of its
own gets a server of its own), on 127.0.0.1, and skip naming the reason when their package is
missing (a failure under ``CI=true``). What each can do with ``"stream": true``:

- **llmock** streams both protocols, one SSE event per write (OpenAI ``chat.completion.chunk``
  with a usage chunk and ``[DONE]``; Anthropic's ``message_start`` ... ``message_stop`` with a
  ``ping``), and scripts: an HTTP error status before the stream (``fail``), a held answer
  (``delay``, before the headers), a slow first chunk (``slow_first_token``, after them), and
  after ``after_chunks`` events a ``disconnect`` (the connection dropped mid-body), a
  ``truncate`` (a clean end of the body with no end event), a ``malformed`` event (its JSON cut
  in half) or a ``stall``; and a reply's finish reason (``length``; ``content_filter``, which it
  sends as Anthropic's ``refusal``). It cannot send an ``error`` event mid-stream, nor a request
  id. Its journal says how many attempts reached it, whether each streamed, and which fault each met.
- **fakellm** streams both protocols from its YAML rules (word by word), but a rule's error
  ``status`` is not sent on a stream (it streams a 200 answer instead), so no stream fault can be
  scripted there: its streams are checked for their text, the empty answer, and the cache.

Every stream goes through ``LLMClient.stream``/``AsyncLLMClient.stream`` with the real providers
over real sockets; sleeps are recorded, never waited. The only real waits are a socket's: a
``timeout_s`` of 0.3 s against a server that holds its answer for 3 s.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

# pytest imports this directory's files as top-level modules (as test_outside_cases.py does); mypy names them
# tests.kit.*, so it cannot find this one: its names are Any to mypy.
import test_third_party_servers as servers  # type: ignore[import-not-found]
from test_third_party_servers import ANSWER, KEY, Fakellm, Llmock, Protocol, assert_no_key_in

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    AuthenticationError,
    ContentRefusedError,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    ProviderError,
    RetriesExhaustedError,
    ServerError,
    StreamInterruptedError,
    TruncatedAnswerWarning,
)
from llm_client.providers import LLMResponse

pytestmark = [pytest.mark.kit, pytest.mark.timeout(90)]

# The fixtures of test_third_party_servers.py, registered in this module too.
protocol = servers.protocol
mode = servers.mode
llmock_loopback = servers.llmock_loopback
llmock_api = servers.llmock_api
fakellm_loopback = servers.fakellm_loopback
fakellm_api = servers.fakellm_api

#: llmock streams a reply a word at a time (each piece with the space after it): one text delta each.
LLMOCK_PIECES = ["Paris ", "is ", "the ", "capital ", "of ", "France."]
#: fakellm streams it a word at a time too, each piece with the space before it.
FAKELLM_PIECES = ["Paris", " is", " the", " capital", " of", " France."]
#: How many events llmock sends before the first text: OpenAI's role chunk (``content: ""``);
#: Anthropic's ``message_start``, ``content_block_start`` (``text: ""``) and ``ping``.
BEFORE_TEXT = {"openai": 1, "anthropic": 3}
#: After the last text and before the end event (``[DONE]``, ``message_stop``): OpenAI's finish and
#: usage chunks; Anthropic's ``content_block_stop`` and ``message_delta``.
AFTER_TEXT = 2
BACKOFF_CAP_S = servers.BACKOFF_CAP_S
TINY_TIMEOUT_S = 0.3  # a real timeout, against servers that hold their answer for HELD_S
HELD_S = 3.0
#: What the client makes of each fault llmock can put in a stream, before its first delta or after it.
FAULT_ERRORS: dict[str, type[ProviderError]] = {
    "disconnect": LLMConnectionError,  # the body ends mid-chunk: httpx.RemoteProtocolError
    "truncate": MalformedResponseError,  # the body ends cleanly, without the provider's end event
    "malformed": MalformedResponseError,  # an event whose data is not JSON
}


def first_text(protocol: Protocol) -> int:
    return BEFORE_TEXT[protocol.name]


def end_event(protocol: Protocol, pieces: int = len(LLMOCK_PIECES)) -> int:
    """The index of the end event (``[DONE]``, ``message_stop``) of llmock's stream of ``pieces`` text pieces."""
    return BEFORE_TEXT[protocol.name] + pieces + AFTER_TEXT


@dataclass
class Outcome:
    """One ``stream()`` or ``call_response()`` of a client: the deltas it yielded (a call: its text), or its error."""

    deltas: list[str] = field(default_factory=list)
    error: LLMError | None = None
    response: LLMResponse | None = None

    @property
    def text(self) -> str:
        return "".join(self.deltas)


@dataclass
class Run:
    outcomes: list[Outcome]
    slept: list[float]
    warned: list[warnings.WarningMessage]
    elapsed_s: float

    def truncation_warnings(self) -> int:
        return sum(issubclass(w.category, TruncatedAnswerWarning) for w in self.warned)


def run(
    mode: str,
    provider: OpenAIProvider | AnthropicProvider,
    req: LLMRequest,
    steps: tuple[str, ...] = ("stream",),
    **settings: Any,
) -> Run:
    """``steps`` ("stream" or "call") in order through one client, sleeps recorded, warnings caught.

    Only an LLMError is caught (into its Outcome): anything else a client lets out fails the test.
    """
    settings = {"timeout_s": 10.0, **settings}
    slept: list[float] = []
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        if mode == "sync":
            with LLMClient(provider, sleep=slept.append, **settings) as client:
                for step in steps:
                    outcome = Outcome()
                    outcomes.append(outcome)
                    try:
                        if step == "stream":
                            for delta in client.stream(req):
                                outcome.deltas.append(delta)
                        else:
                            outcome.response = client.call_response(req)
                            outcome.deltas.append(outcome.response.text)
                    except LLMError as error:
                        outcome.error = error
        else:

            async def record(seconds: float) -> None:
                slept.append(seconds)

            async def main() -> None:
                async with AsyncLLMClient(provider, sleep=record, **settings) as client:
                    for step in steps:
                        outcome = Outcome()
                        outcomes.append(outcome)
                        try:
                            if step == "stream":
                                async for delta in client.stream(req):
                                    outcome.deltas.append(delta)
                            else:
                                outcome.response = await client.call_response(req)
                                outcome.deltas.append(outcome.response.text)
                        except LLMError as error:
                            outcome.error = error

            asyncio.run(main())
    return Run(outcomes, slept, list(warned), time.monotonic() - started)


def failed_attempts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ``error_type`` of each ``llm.attempt_failed`` record, in order."""
    types = []
    for record in caplog.records:
        message = record.getMessage()
        if "llm.attempt_failed" in message:
            types.append(message.split("error_type=", 1)[1].split()[0])
    return types


# -- llmock -----------------------------------------------------------------------------------------


def journal(mock: Llmock) -> list[tuple[int, bool, str | None]]:
    """(status, streamed, fault) of each request that reached llmock, in order."""
    return [(record["status"], record["stream"], record["fault"]) for record in mock.requests()]


def test_llmock_a_stream_yields_calls_text_delta_by_delta_and_once_finished_is_a_cache_hit(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "reply", "text": ANSWER, "times": 2})
    req = LLMRequest(model=protocol.model, prompt="Name the capital of France.", system_prompt="Answer briefly.")
    provider = protocol.provider(llmock_api.base_url(protocol))
    [called] = run(mode, provider, req, ("call",)).outcomes
    assert called.error is None and called.response is not None
    assert called.response.text == ANSWER

    result = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, ("stream", "call", "stream"),
                 cache=MemoryCache())
    streamed, after, restreamed = result.outcomes
    assert streamed.error is None
    assert streamed.deltas == LLMOCK_PIECES  # one delta per event, as sent, none merged or dropped
    assert streamed.text == called.response.text
    assert after.response is not None and after.response.from_cache and after.response.text == ANSWER
    assert restreamed.error is None and restreamed.deltas == [ANSWER]  # a hit: the whole answer at once
    assert result.slept == []
    records = llmock_api.requests()
    assert [(r["status"], r["stream"]) for r in records] == [(200, False), (200, True)]  # the hits sent nothing
    body = records[1]["body"]
    assert body["stream"] is True and body["model"] == protocol.model
    if protocol.name == "openai":
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0] == {"role": "system", "content": "Answer briefly."}
    else:
        assert body["system"] == "Answer briefly."
    assert records[1]["completed"] and records[1]["fault"] is None


def test_llmock_a_stream_of_multibyte_text_and_newlines_arrives_intact(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    text = "Größe: 東京 🚀 café\nzweite Zeile — «fin»"
    llmock_api.script({"type": "reply", "text": text, "times": 2})
    req = LLMRequest(model=protocol.model, prompt="Say it in many scripts.")
    streamed, called = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, ("stream", "call")).outcomes
    assert streamed.error is None and called.error is None
    assert len(streamed.deltas) > 1
    assert streamed.text == called.text == text


def test_llmock_an_empty_stream_is_the_empty_string_and_is_cached(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "reply", "text": ""})
    req = LLMRequest(model=protocol.model, prompt="Say nothing.")
    provider = protocol.provider(llmock_api.base_url(protocol))
    streamed, called = run(mode, provider, req, ("stream", "call"), cache=MemoryCache()).outcomes
    assert streamed.error is None and streamed.text == ""
    assert called.response is not None and (called.response.text, called.response.from_cache) == ("", True)
    assert journal(llmock_api) == [(200, True, None)]


def test_llmock_a_stream_cut_at_the_token_limit_warns_and_is_not_cached(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "reply", "text": "Paris is the capital", "finish_reason": "length", "times": 2})
    req = LLMRequest(model=protocol.model, prompt="Name the capital of France.")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, ("stream", "call"), cache=MemoryCache())
    streamed, called = result.outcomes
    assert streamed.error is None and streamed.deltas == ["Paris ", "is ", "the ", "capital"]
    assert called.response is not None and called.response.truncated
    assert not called.response.from_cache and called.response.text == "Paris is the capital"
    assert result.truncation_warnings() == 2  # the stream's and the call's
    assert journal(llmock_api) == [(200, True, None), (200, False, None)]


def test_llmock_a_filtered_stream_yields_its_text_then_raises_content_refused_never_retried_nor_cached(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    # llmock ends the OpenAI stream with finish_reason "content_filter", the Anthropic one with stop_reason "refusal".
    llmock_api.script({"type": "reply", "text": "Here is how to", "finish_reason": "content_filter", "times": None})
    req = LLMRequest(model=protocol.model, prompt="Explain something forbidden.")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, ("stream", "stream"), cache=MemoryCache(), max_retries=3)
    for streamed in result.outcomes:
        assert streamed.deltas == ["Here ", "is ", "how ", "to"]  # the text comes first, then the refusal
        assert type(streamed.error) is ContentRefusedError and not streamed.error.retryable
    assert journal(llmock_api) == [(200, True, None), (200, True, None)]  # once each: nothing retried, nothing cached
    assert result.slept == []


@pytest.mark.parametrize(
    ("failure", "expected_sleep"),
    [
        ({"type": "fail", "status": 429, "retry_after": 0.25}, 0.25),
        ({"type": "fail", "status": 500}, None),  # no Retry-After: backoff
        ({"type": "fail", "status": 503}, 1.0),  # llmock's Retry-After on a 503 and a 529
        ({"type": "fail", "status": 529}, 1.0),
    ],
    ids=["429", "500", "503", "529"],
)
def test_llmock_an_error_status_before_the_stream_is_retried_and_the_stream_follows_whole(
    llmock_api: Llmock, protocol: Protocol, mode: str, failure: dict[str, Any], expected_sleep: float | None
) -> None:
    llmock_api.script(failure, {"type": "reply", "text": ANSWER})
    req = LLMRequest(model=protocol.model, prompt="hello")
    result = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, max_retries=2)
    [streamed] = result.outcomes
    assert streamed.error is None and streamed.deltas == LLMOCK_PIECES
    status = failure["status"]
    assert journal(llmock_api) == [(status, True, f"scenario:{status}"), (200, True, None)]
    if expected_sleep is None:
        assert len(result.slept) == 1 and 0.0 <= result.slept[0] <= BACKOFF_CAP_S
    else:
        assert result.slept == [expected_sleep]


@pytest.mark.parametrize(
    ("status", "error_class", "message"),
    [
        (401, AuthenticationError, f"Incorrect API key provided: {KEY}."),
        (403, AuthenticationError, "Your organization has no access to this model."),
        (400, InvalidRequestError, "max_tokens: 100000 > 8192, the maximum for this model"),
        (404, InvalidRequestError, "The model `gpt-9` does not exist."),
        (413, InvalidRequestError, "Request too large."),
    ],
    ids=["401", "403", "400", "404", "413"],
)
def test_llmock_a_client_error_status_ends_the_stream_at_once_with_its_class_and_message(
    llmock_api: Llmock,
    protocol: Protocol,
    mode: str,
    status: int,
    error_class: type[InvalidRequestError],
    message: str,
) -> None:
    llmock_api.script({"type": "fail", "status": status, "message": message, "times": None})
    req = LLMRequest(model=protocol.model, prompt="hello")
    result = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, max_retries=3)
    [streamed] = result.outcomes
    assert streamed.deltas == []
    error = streamed.error
    assert type(error) is error_class and not error.retryable
    assert error.status_code == status
    assert error.provider_message is not None and error.provider_message.startswith(message[:20])
    assert_no_key_in(error)  # the 401's message quotes the key back
    assert journal(llmock_api) == [(status, True, f"scenario:{status}")]  # tried once
    assert result.slept == []


def test_llmock_a_server_error_that_persists_ends_the_stream_in_retries_exhausted(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    llmock_api.script({"type": "fail", "status": 503, "times": None, "message": "The service is down."})
    req = LLMRequest(model=protocol.model, prompt="hello")
    result = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, max_retries=2)
    [streamed] = result.outcomes
    assert streamed.deltas == []
    error = streamed.error
    assert isinstance(error, RetriesExhaustedError) and error.attempts == 3
    assert type(error.last_error) is ServerError and error.__cause__ is error.last_error
    assert error.last_error.status_code == 503 and error.last_error.provider_message == "The service is down."
    assert journal(llmock_api) == [(503, True, "scenario:503")] * 3
    assert result.slept == [1.0, 1.0]


@pytest.mark.parametrize("kind", sorted(FAULT_ERRORS))
@pytest.mark.parametrize("where", ["at-the-first-event", "at-the-first-text"])
def test_llmock_a_stream_fault_before_the_first_delta_is_retried_and_the_answer_follows_once(
    llmock_api: Llmock,
    protocol: Protocol,
    mode: str,
    kind: str,
    where: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # At the first event nothing but the headers went out; at the first text every event before it did.
    after = 0 if where == "at-the-first-event" else first_text(protocol)
    llmock_api.script(
        {"type": "stream_fault", "kind": kind, "after_chunks": after}, {"type": "reply", "text": ANSWER, "times": 2}
    )
    caplog.set_level(logging.WARNING, logger="llm_client")
    req = LLMRequest(model=protocol.model, prompt="hello")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, ("stream", "call"), cache=MemoryCache(), max_retries=2)
    streamed, called = result.outcomes
    assert streamed.error is None
    assert streamed.deltas == LLMOCK_PIECES  # the retry's text only: nothing of the failed attempt, nothing twice
    assert called.response is not None and called.response.from_cache  # the retried stream finished: cached
    assert failed_attempts(caplog) == [FAULT_ERRORS[kind].__name__]
    assert len(result.slept) == 1 and 0.0 <= result.slept[0] <= BACKOFF_CAP_S
    assert journal(llmock_api) == [(200, True, f"stream:{kind}@{after}"), (200, True, None)]


@pytest.mark.parametrize("kind", sorted(FAULT_ERRORS))
def test_llmock_a_stream_fault_after_text_is_stream_interrupted_with_the_partial_text_never_retried(
    llmock_api: Llmock, protocol: Protocol, mode: str, kind: str
) -> None:
    after = first_text(protocol) + 2  # two text events went out: "Paris " and "is "
    llmock_api.script(
        {"type": "stream_fault", "kind": kind, "after_chunks": after}, {"type": "reply", "text": ANSWER, "times": 2}
    )
    req = LLMRequest(model=protocol.model, prompt="hello")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, ("stream", "call"), cache=MemoryCache(), max_retries=3)
    streamed, called = result.outcomes
    assert streamed.deltas == ["Paris ", "is "]
    error = streamed.error
    assert type(error) is StreamInterruptedError and not error.retryable
    assert error.partial_text == "Paris is "
    assert type(error.cause) is FAULT_ERRORS[kind] and error.__cause__ is error.cause
    assert result.slept == []
    # Never retried (max_retries=3), and nothing cached: the call after it reaches the server.
    assert called.response is not None and not called.response.from_cache and called.response.text == ANSWER
    assert journal(llmock_api) == [(200, True, f"stream:{kind}@{after}"), (200, False, None)]


@pytest.mark.parametrize("kind", ["disconnect", "truncate"])
def test_llmock_a_stream_cut_just_before_its_end_event_is_interrupted_not_taken_as_whole(
    llmock_api: Llmock, protocol: Protocol, mode: str, kind: str
) -> None:
    # Every text event and the finish reason went out; only [DONE] (message_stop) is missing.
    after = end_event(protocol)
    llmock_api.script({"type": "stream_fault", "kind": kind, "after_chunks": after}, {"type": "reply", "text": ANSWER})
    req = LLMRequest(model=protocol.model, prompt="hello")
    result = run(mode, protocol.provider(llmock_api.base_url(protocol)), req, cache=MemoryCache(), max_retries=3)
    [streamed] = result.outcomes
    assert streamed.deltas == LLMOCK_PIECES
    error = streamed.error
    assert type(error) is StreamInterruptedError and error.partial_text == ANSWER
    assert type(error.cause) is FAULT_ERRORS[kind]
    assert journal(llmock_api) == [(200, True, f"stream:{kind}@{after}")]
    assert result.slept == []


def test_llmock_a_stream_that_stalls_after_text_past_timeout_s_is_interrupted_at_the_timeout(
    llmock_api: Llmock, protocol: Protocol, mode: str
) -> None:
    after = first_text(protocol) + 2
    llmock_api.script(
        {"type": "stream_fault", "kind": "stall", "after_chunks": after, "stall_seconds": HELD_S},
        {"type": "reply", "text": ANSWER},
    )
    req = LLMRequest(model=protocol.model, prompt="hello")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, timeout_s=TINY_TIMEOUT_S, max_retries=3)
    [streamed] = result.outcomes
    assert streamed.deltas == ["Paris ", "is "]
    error = streamed.error
    assert type(error) is StreamInterruptedError and error.partial_text == "Paris is "
    assert type(error.cause) is LLMTimeoutError
    assert result.elapsed_s < HELD_S  # given up at the timeout, not when the server carried on
    [record] = llmock_api.requests()  # one attempt: never retried
    assert record["fault"] == f"stream:stall@{after}" and not record["completed"]
    assert record["stall_waited"] is not None and record["stall_waited"] < HELD_S  # the client hung up
    assert result.slept == []


@pytest.mark.parametrize(
    "hold",
    ["delay", "slow_first_token", "stall"],
    ids=["held-before-the-headers", "held-before-the-first-event", "stalled-before-the-first-text"],
)
def test_llmock_a_stream_slower_than_timeout_s_before_its_first_delta_times_out_and_is_retried(
    llmock_api: Llmock, protocol: Protocol, mode: str, hold: str, caplog: pytest.LogCaptureFixture
) -> None:
    behaviours: dict[str, dict[str, Any]] = {
        "delay": {"type": "delay", "seconds": HELD_S},
        "slow_first_token": {"type": "slow_first_token", "seconds": HELD_S},
        "stall": {"type": "stream_fault", "kind": "stall", "after_chunks": first_text(protocol),
                  "stall_seconds": HELD_S},
    }
    llmock_api.script(behaviours[hold], {"type": "reply", "text": ANSWER, "times": 2})
    caplog.set_level(logging.WARNING, logger="llm_client")
    req = LLMRequest(model=protocol.model, prompt="hello")
    provider = protocol.provider(llmock_api.base_url(protocol))
    result = run(mode, provider, req, timeout_s=TINY_TIMEOUT_S, max_retries=1)
    [streamed] = result.outcomes
    assert streamed.error is None and streamed.deltas == LLMOCK_PIECES
    assert failed_attempts(caplog) == ["LLMTimeoutError"]
    assert len(result.slept) == 1 and 0.0 <= result.slept[0] <= BACKOFF_CAP_S
    assert result.elapsed_s < HELD_S  # the first attempt was given up at its timeout
    if hold != "delay":  # a delayed request is still held by the server (it stops at no hang-up): not journaled yet
        records = llmock_api.requests()
        assert [(r["status"], r["stream"], r["completed"]) for r in records] == [(200, True, False), (200, True, True)]


# -- fakellm ----------------------------------------------------------------------------------------


def test_fakellm_a_stream_yields_calls_text_word_by_word_and_once_finished_is_a_cache_hit(
    fakellm_api: Fakellm, protocol: Protocol, mode: str
) -> None:
    req = LLMRequest(model=protocol.model, prompt="fk-plain: name the capital of France.")
    provider = protocol.provider(fakellm_api.base_url(protocol))
    [called] = run(mode, provider, req, ("call",)).outcomes
    assert called.response is not None and called.response.text == ANSWER
    result = run(mode, protocol.provider(fakellm_api.base_url(protocol)), req, ("stream", "call"),
                 cache=MemoryCache())
    streamed, after = result.outcomes
    assert streamed.error is None and streamed.deltas == FAKELLM_PIECES
    assert streamed.text == called.response.text
    assert after.response is not None and after.response.from_cache
    assert fakellm_api.hits() == {"plain": 2}  # the call, then the stream; the hit sent nothing
    assert result.slept == []


def test_fakellm_an_empty_stream_is_the_empty_string_and_is_cached(
    fakellm_api: Fakellm, protocol: Protocol, mode: str
) -> None:
    # fakellm streams one OpenAI chunk of ``content: ""``; on Anthropic's path no content block at all.
    req = LLMRequest(model=protocol.model, prompt="fk-empty")
    provider = protocol.provider(fakellm_api.base_url(protocol))
    streamed, called = run(mode, provider, req, ("stream", "call"), cache=MemoryCache()).outcomes
    assert streamed.error is None and streamed.text == ""
    assert called.response is not None and (called.response.text, called.response.from_cache) == ("", True)
    assert fakellm_api.hits() == {"empty": 1}
