"""Streaming (``LLMClient.stream``, ``AsyncLLMClient.stream``): the SSE reading, the timer, and the client's promises.

Here no socket is opened: the providers read recorded streams (the SDKs' own
test fixtures, in ``stream_fixtures/``, each naming its source in a comment)
through an ``httpx.MockTransport``, and the client's decisions are checked on
a scripted provider. ``test_streaming_servers.py`` has the loopback servers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    ContentRefusedError,
    LLMClient,
    LLMConnectionError,
    LLMRequest,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    RateLimitError,
    ResponseTooLargeError,
    RetriesExhaustedError,
    ServerError,
    StreamInterruptedError,
    TruncatedAnswerWarning,
)
from llm_client._internal.stream_core import SSEEvent, SSEReader, StreamEnd, StreamTimer
from llm_client.providers import FakeProvider
from llm_client.streaming import parse_sse_block

pytestmark = pytest.mark.kit

FIXTURES = Path(__file__).parent / "stream_fixtures"
REQ = LLMRequest(prompt="Say hello", model="m")
KEY = "sk-stream-secret-0123456789"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode()


def openai_chunk(content: str | None = None, finish: str | None = None) -> str:
    import json

    delta = {} if content is None else {"content": content}
    return "data: " + json.dumps({"model": "gpt", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


OPENAI_OK = sse(openai_chunk("Hel"), openai_chunk("lo", "stop"), "data: [DONE]")


class Server:
    """A MockTransport answering each request with the next (status, body) of ``answers``."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return httpx.Response(status, content=body, headers={"content-type": "text/event-stream"})

    async def handle(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def openai(server: Server, **kwargs: Any) -> OpenAIProvider:
    return OpenAIProvider(api_key=KEY, http_client=httpx.Client(transport=httpx.MockTransport(server)), **kwargs)


def anthropic(server: Server, **kwargs: Any) -> AnthropicProvider:
    return AnthropicProvider(api_key=KEY, http_client=httpx.Client(transport=httpx.MockTransport(server)), **kwargs)


def client(provider: Any, **kwargs: Any) -> LLMClient:
    return LLMClient(provider, sleep=lambda s: None, waits=lambda e, a: 0.0, rng=random.Random(0), **kwargs)


def collect(stream: Iterator[str]) -> tuple[list[str], BaseException | None]:
    got: list[str] = []
    try:
        for delta in stream:
            got.append(delta)
    except Exception as exc:  # the test looks at it
        return got, exc
    return got, None


# -- the event stream format -----------------------------------------------------------------------


def test_parse_sse_block_follows_the_event_stream_rules() -> None:
    assert parse_sse_block(["data: x"]) == SSEEvent("message", "x")
    assert parse_sse_block(["data:x"]) == SSEEvent("message", "x")
    assert parse_sse_block(["data:  x"]) == SSEEvent("message", " x"), "only one space is dropped"
    assert parse_sse_block(["event: ping", "data: {}"]) == SSEEvent("ping", "{}")
    assert parse_sse_block(["data: a", ": comment", "data: b", "id: 7", "retry: 10"]) == SSEEvent("message", "a\nb")
    assert parse_sse_block([": ping"]) is None, "a comment is no event"
    assert parse_sse_block(["event: x"]) is None, "no data, no event"
    assert parse_sse_block(["data"]) is None and parse_sse_block(["data:"]) is None
    assert parse_sse_block(["data", "data"]) == SSEEvent("message", "\n")
    assert parse_sse_block(["Data: x"]) is None, "field names are case-sensitive"
    assert parse_sse_block(["event:", "data: x"]) == SSEEvent("message", "x")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_split_of_the_bytes_gives_the_same_events(data: st.DataObject) -> None:
    body = fixture("anthropic_basic.sse").replace(b"\n", b"\r\n") + "\r\n\rdata: é✓\r\n\r\n".encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    reader, events = SSEReader("t", parse_sse_block), []
    for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True):
        events += reader.feed(body[start:end])
    events += reader.feed(b"", final=True)
    whole = SSEReader("t", parse_sse_block)
    expected = whole.feed(body) + whole.feed(b"", final=True)
    assert events == expected
    assert [e.event for e in expected][:3] == ["message_start", "content_block_start", "ping"]
    assert expected[-1] == SSEEvent("message", "é✓")


def test_bytes_that_are_not_utf8_are_a_malformed_stream() -> None:
    with pytest.raises(MalformedResponseError):
        SSEReader("t", parse_sse_block).feed(b"data: \xff\xfe\n\n")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_text_restarts_the_idle_bound_and_the_total_bound_holds_regardless() -> None:
    clock = FakeClock()
    timer = StreamTimer(idle_s=5.0, total_s=12.0, clock=clock)
    assert timer.read_by() == 105.0
    clock.now = 104.0  # a ping arrives here: nothing is called, the bound stays
    assert timer.read_by() == 105.0 and not timer.expired()
    clock.now = 105.0
    assert timer.expired() and "first text delta" in str(timer.timed_out())
    timer.text_arrived()  # text: the idle bound starts again
    assert timer.read_by() == 110.0
    clock.now = 109.0
    timer.text_arrived()
    assert timer.read_by() == 112.0, "never past the total bound"
    clock.now = 112.0
    assert timer.expired() and "passed its bound" in str(timer.timed_out())


# -- the SDKs' recorded streams --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "text"),
    [(openai, "openai_basic.sse", "Foo!"), (anthropic, "anthropic_basic.sse", "Hello there!")],
)
def test_a_recorded_stream_yields_its_text_and_is_cached_for_call(make: Any, name: str, text: str) -> None:
    server = Server((200, fixture(name)))
    cache = MemoryCache()
    llm = client(make(server), cache=cache)
    deltas = list(llm.stream(REQ))
    assert "".join(deltas) == text and len(deltas) > 1
    assert llm.call(REQ) == text and len(server.requests) == 1, "call() shares the stream's cache entry"
    assert list(llm.stream(REQ)) == [text], "a cache hit replays the whole answer as one delta"
    sent = server.requests[0].read()
    assert b'"stream":true' in sent.replace(b" ", b"")


def test_openai_asks_for_usage_in_the_stream() -> None:
    server = Server((200, fixture("openai_basic.sse")))
    list(client(openai(server)).stream(REQ))
    assert b'"include_usage":true' in server.requests[0].read().replace(b" ", b"")


def test_a_call_answer_is_replayed_by_stream_as_one_delta() -> None:
    cache = MemoryCache()
    llm = client(FakeProvider(["the whole answer"]), cache=cache)
    assert llm.call(REQ) == "the whole answer"
    assert list(llm.stream(REQ)) == ["the whole answer"]


@pytest.mark.parametrize(("make", "name"), [(openai, "openai_refusal.sse"), (anthropic, "anthropic_refusal.sse")])
def test_a_recorded_refusal_is_a_content_refused_error_tried_once(make: Any, name: str) -> None:
    server = Server((200, fixture(name)))
    cache = MemoryCache()
    got, error = collect(client(make(server), cache=cache).stream(REQ))
    assert isinstance(error, ContentRefusedError) and got == []
    assert len(server.requests) == 1 and len(cache) == 0


def test_a_recorded_length_finish_warns_and_is_not_cached() -> None:
    server = Server((200, fixture("openai_length.sse")))
    cache = MemoryCache()
    with pytest.warns(TruncatedAnswerWarning):
        assert "".join(client(openai(server), cache=cache).stream(REQ)) == '{"'
    assert len(cache) == 0


def test_a_content_filter_after_partial_text_raises_after_the_text() -> None:
    body = sse(openai_chunk("Once upon"), openai_chunk(None, "content_filter"), "data: [DONE]")
    got, error = collect(client(openai(Server((200, body)))).stream(REQ))
    assert got == ["Once upon"] and isinstance(error, ContentRefusedError)


# -- failures before and after the first delta ---------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "cause"),
    [
        ((429, b'{"error": {"message": "slow down"}}'), RateLimitError),
        ((200, sse('data: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}')), ServerError),
        ((200, sse("event: ping", 'data: {"type": "ping"}')), MalformedResponseError),  # no end
        ((200, b"data: {not json\n\n"), MalformedResponseError),
    ],
)
def test_a_failure_before_the_first_delta_is_retried_like_any_attempt(first: tuple[int, bytes], cause: type) -> None:
    server = Server(first, (200, fixture("anthropic_basic.sse")))
    failures: list[BaseException] = []
    llm = LLMClient(anthropic(server), sleep=lambda s: None, waits=lambda e, a: failures.append(e) or 0.0)
    assert "".join(llm.stream(REQ)) == "Hello there!"
    assert len(server.requests) == 2 and [type(e) for e in failures] == [cause]


def test_failures_before_the_first_delta_end_as_after_failure_decides() -> None:
    server = Server((200, sse(openai_chunk(None), "data: [DONE]")[:-8]))
    got, error = collect(client(openai(server), max_retries=2).stream(REQ))
    assert got == [] and isinstance(error, RetriesExhaustedError) and error.attempts == 3
    assert isinstance(error.last_error, MalformedResponseError)


DELTA = 'data: {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}}'


@pytest.mark.parametrize(
    ("rest", "cause"),
    [
        ('data: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}', ServerError),
        ("data: {broken", MalformedResponseError),
        ('event: ping\ndata: {"type": "ping"}', MalformedResponseError),  # the body ends with no message_stop
    ],
)
def test_a_failure_after_the_first_delta_is_a_stream_interrupted_error_never_retried(rest: str, cause: type) -> None:
    server = Server((200, sse(DELTA, rest)), (200, fixture("anthropic_basic.sse")))
    cache = MemoryCache()
    got, error = collect(client(anthropic(server), cache=cache).stream(REQ))
    assert got == ["Hel"] and isinstance(error, StreamInterruptedError)
    assert error.partial_text == "Hel" and isinstance(error.cause, cause) and error.__cause__ is error.cause
    assert not error.retryable and len(server.requests) == 1 and len(cache) == 0


def test_a_body_past_max_response_bytes_mid_stream_is_interrupted() -> None:
    body = sse(DELTA) + b": " + b"x" * 5000 + b"\n\n" + fixture("anthropic_basic.sse")
    got, error = collect(client(anthropic(Server((200, body)), max_response_bytes=4096)).stream(REQ))
    assert got == ["Hel"] and isinstance(error, StreamInterruptedError)
    assert isinstance(error.cause, ResponseTooLargeError)


def test_a_body_past_max_response_bytes_before_any_text_is_not_retried() -> None:
    server = Server((200, b": " + b"x" * 5000 + b"\n\n"))
    _got, error = collect(client(anthropic(server, max_response_bytes=4096)).stream(REQ))
    assert isinstance(error, ResponseTooLargeError) and len(server.requests) == 1


def test_a_key_echoed_in_an_error_event_reaches_no_error_or_log(caplog: pytest.LogCaptureFixture) -> None:
    event = 'data: {"type": "error", "error": {"type": "api_error", "message": "bad key ' + KEY + '"}}'
    with caplog.at_level(logging.DEBUG, logger="llm_client"):
        _got, error = collect(client(anthropic(Server((200, sse(DELTA, event))))).stream(REQ))
    assert isinstance(error, StreamInterruptedError)
    seen = " ".join([str(error), str(error.cause), repr(error.cause.provider_message), caplog.text])
    assert KEY not in seen and "[redacted]" in str(error.cause)


# -- the client around the stream ---------------------------------------------------------------------


class Scripted:
    """A provider whose streamed attempts follow a script: text, StreamEnd, or an exception to raise."""

    name = "scripted"

    def __init__(self, *attempts: list[Any]) -> None:
        self.attempts = list(attempts)
        self.started = 0
        self.closed = 0

    def complete(self, req: LLMRequest, *, timeout_s: float) -> Any:
        raise AssertionError("stream() never calls complete()")

    def stream_attempt(self, req: LLMRequest, *, timeout_s: float, total_s: float) -> Iterator[Any]:
        script = self.attempts[self.started]
        self.started += 1
        try:
            for item in script:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed += 1


END = StreamEnd("stop", "m")


def test_the_log_has_the_time_to_first_token(caplog: pytest.LogCaptureFixture) -> None:
    ticks = iter(range(100))
    llm = LLMClient(Scripted(["a", "b", END]), clock=lambda: float(next(ticks)), sleep=lambda s: None)
    with caplog.at_level(logging.INFO, logger="llm_client"):
        assert list(llm.stream(REQ)) == ["a", "b"]
    ok = [r for r in caplog.records if getattr(r, "event", None) == "llm.attempt_ok"]
    assert len(ok) == 1 and "ttft_s=" in ok[0].getMessage() and ok[0].ttft_s > 0  # type: ignore[attr-defined]


def test_closing_the_stream_early_closes_the_attempt_at_once_and_caches_nothing() -> None:
    provider = Scripted(["a", "b", "c", END])
    cache = MemoryCache()
    stream = LLMClient(provider, cache=cache).stream(REQ)
    assert next(stream) == "a"
    stream.close()  # type: ignore[attr-defined]
    assert provider.closed == 1 and len(cache) == 0


def test_a_stream_shares_no_flight_and_each_stream_reaches_the_provider() -> None:
    provider = Scripted(["a", END], ["a", END])
    llm = LLMClient(provider)
    first, second = llm.stream(REQ), llm.stream(REQ)
    assert list(first) + list(second) == ["a", "a"] and provider.started == 2


def test_a_provider_that_cannot_stream_is_refused_with_a_type_error() -> None:
    class Plain:
        name = "plain"

        def complete(self, req: LLMRequest, *, timeout_s: float) -> Any:
            raise AssertionError

    with pytest.raises(TypeError, match="cannot stream"):
        LLMClient(Plain()).stream(REQ)


def test_while_exercise_8_is_unwritten_stream_names_it_and_call_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_client import streaming

    def stub(lines: Any) -> Any:
        raise NotImplementedError("ex8: parse_sse_block is not written yet")

    monkeypatch.setattr(streaming, "parse_sse_block", stub)
    llm = LLMClient(FakeProvider(["fine"]))
    with pytest.raises(NotImplementedError, match=r"^ex8: parse_sse_block is not written yet"):
        llm.stream(REQ)
    assert llm.call(REQ) == "fine"


def test_the_stream_bound_is_what_is_left_of_the_deadline_else_max_stream_s() -> None:
    seen: list[float] = []

    class Recording(Scripted):
        def stream_attempt(self, req: LLMRequest, *, timeout_s: float, total_s: float) -> Iterator[Any]:
            seen.append(total_s)
            return super().stream_attempt(req, timeout_s=timeout_s, total_s=total_s)

    list(LLMClient(Recording(["a", END]), max_stream_s=42.0).stream(REQ))
    list(LLMClient(Recording(["a", END]), deadline_s=7.0, clock=lambda: 0.0).stream(REQ))
    assert seen == [42.0, 7.0]
    with pytest.raises(ValueError, match="max_stream_s"):
        LLMClient(FakeProvider(), max_stream_s=0)


def test_a_connection_cut_after_text_is_interrupted_with_the_partial_text() -> None:
    cut = LLMConnectionError("peer closed connection")
    got, error = collect(LLMClient(Scripted(["a", "b", cut], ["x", END])).stream(REQ))
    assert got == ["a", "b"] and isinstance(error, StreamInterruptedError) and error.partial_text == "ab"
    assert error.cause is cut


# -- async ------------------------------------------------------------------------------------------------


def aclient(provider: Any, **kwargs: Any) -> AsyncLLMClient:
    async def no_wait(seconds: float) -> None:
        return None

    return AsyncLLMClient(provider, sleep=no_wait, waits=lambda e, a: 0.0, **kwargs)


async def acollect(stream: AsyncIterator[str]) -> tuple[list[str], BaseException | None]:
    got: list[str] = []
    try:
        async for delta in stream:
            got.append(delta)
    except Exception as exc:
        return got, exc
    return got, None


def async_provider(make: Any, server: Server, **kwargs: Any) -> Any:
    cls = OpenAIProvider if make is openai else AnthropicProvider
    return cls(api_key=KEY, async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(server.handle)), **kwargs)


@pytest.mark.parametrize(
    ("make", "name", "text"),
    [(openai, "openai_basic.sse", "Foo!"), (anthropic, "anthropic_basic.sse", "Hello there!")],
)
def test_the_async_stream_reads_the_recorded_streams_and_shares_the_cache(make: Any, name: str, text: str) -> None:
    async def main() -> None:
        server = Server((500, b"{}"), (200, fixture(name)))
        llm = aclient(async_provider(make, server), cache=MemoryCache())
        got, error = await acollect(llm.stream(REQ))
        assert error is None and "".join(got) == text and len(server.requests) == 2
        assert await llm.call(REQ) == text and len(server.requests) == 2
        assert await acollect(llm.stream(REQ)) == ([text], None)
        await llm.aclose()

    asyncio.run(main())


def test_the_async_stream_interrupts_after_text_and_refuses_after_partial_text() -> None:
    async def main() -> None:
        event = 'data: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}'
        llm = aclient(async_provider(anthropic, Server((200, sse(DELTA, event)))))
        got, error = await acollect(llm.stream(REQ))
        assert got == ["Hel"] and isinstance(error, StreamInterruptedError) and isinstance(error.cause, ServerError)
        body = sse(openai_chunk("Once"), openai_chunk(None, "content_filter"), "data: [DONE]")
        got, error = await acollect(aclient(async_provider(openai, Server((200, body)))).stream(REQ))
        assert got == ["Once"] and isinstance(error, ContentRefusedError)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got, error = await acollect(aclient(FakeProvider(["a b"])).stream(REQ))
        assert "".join(got) == "a b" and error is None and not caught

    asyncio.run(main())
