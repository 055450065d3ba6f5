"""Streams against loopback servers that misbehave on purpose: pings forever, no end, a cut, a reader who leaves.

Each server is started and stopped by its test and stops writing when told;
the timeouts are tiny real ones (a real socket must time out), and every
wait in a test is bounded. Nothing here asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llm_client import (
    AnthropicProvider,
    AsyncLLMClient,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    OpenAIProvider,
    ProviderError,
    RetriesExhaustedError,
    StreamInterruptedError,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(prompt="hi", model="m")
TINY_S = 0.3  # the real timeout of the stalled streams below
GAP_S = 0.02  # the pace of the pings and the text of the servers below
REQUEST_ID = "req_stream_1"  # the provider's id of the request, in every answer's headers

Behaviour = Callable[[socket.socket, threading.Event], None]


class StreamServer:
    """A raw HTTP/1.1 server on 127.0.0.1: reads one request per connection, then runs ``behaviour``.

    ``hung_up`` is set once a write fails because the client closed the connection.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.hung_up = threading.Event()
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> StreamServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._acceptor.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)
        self._sock.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length:")), 0)
            while len(body) < length:  # read the whole request: closing on unread bytes would reset the connection
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests += 1
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
                b"x-request-id: " + REQUEST_ID.encode() + b"\r\nrequest-id: " + REQUEST_ID.encode() + b"\r\n\r\n"
            )
            self.behaviour(conn, self.stop)
        except OSError:
            self.hung_up.set()
        finally:
            conn.close()


def send(conn: socket.socket, text: str) -> None:
    data = text.encode()
    conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))


def anthropic_text(text: str) -> str:
    body = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    return f"event: content_block_delta\ndata: {json.dumps(body)}\n\n"


def openai_text(text: str) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}) + "\n\n"


def forever(conn: socket.socket, stop: threading.Event, what: str) -> None:
    """Send ``what`` every GAP_S until told to stop (or the client hangs up: OSError)."""
    while not stop.wait(GAP_S):
        send(conn, what)


def text_then_comments(conn: socket.socket, stop: threading.Event) -> None:
    send(conn, openai_text("Hi"))
    forever(conn, stop, ": keep-alive\n\n")


def only_pings(conn: socket.socket, stop: threading.Event) -> None:
    forever(conn, stop, 'event: ping\ndata: {"type": "ping"}\n\n')


def text_forever(conn: socket.socket, stop: threading.Event) -> None:
    forever(conn, stop, anthropic_text("la "))


def text_then_cut(conn: socket.socket, stop: threading.Event) -> None:
    send(conn, anthropic_text("Hel"))
    conn.shutdown(socket.SHUT_RDWR)  # no last chunk, no message_stop: the connection just ends


def openai_provider(server: StreamServer) -> OpenAIProvider:
    return OpenAIProvider(base_url=server.url + "/v1")


def anthropic_provider(server: StreamServer) -> AnthropicProvider:
    return AnthropicProvider(api_key="k", base_url=server.url)


def sync_client(provider: Any, **kwargs: Any) -> LLMClient:
    return LLMClient(provider, sleep=lambda s: None, waits=lambda e, a: 0.0, **kwargs)


def run(stream: Iterator[str]) -> tuple[list[str], BaseException | None]:
    got: list[str] = []
    try:
        for delta in stream:
            got.append(delta)
    except Exception as exc:
        return got, exc
    return got, None


async def arun(llm: AsyncLLMClient) -> tuple[list[str], BaseException | None]:
    """:func:`run` for the async client's stream of REQ; the client is closed after."""
    got: list[str] = []
    try:
        async for delta in llm.stream(REQ):
            got.append(delta)
    except Exception as exc:
        return got, exc
    finally:
        await llm.aclose()
    return got, None


def on_a_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` on a daemon thread, waiting at most 10 s: a broken bound fails the test, never hangs it."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the stream was not bounded"
    return result[0]


def test_comments_after_the_first_delta_do_not_restart_the_timeout() -> None:
    with StreamServer(text_then_comments) as server:
        llm = sync_client(openai_provider(server), timeout_s=TINY_S)
        got, error = on_a_thread(lambda: run(llm.stream(REQ)))
    assert got == ["Hi"] and isinstance(error, StreamInterruptedError) and error.partial_text == "Hi"
    assert isinstance(error.cause, LLMTimeoutError) and "next text delta" in str(error.cause.__cause__)
    assert server.requests == 1, "never retried after text was yielded"


def test_pings_before_the_first_delta_do_not_restart_the_timeout_and_the_attempt_is_retried() -> None:
    with StreamServer(only_pings) as server:
        llm = sync_client(anthropic_provider(server), timeout_s=TINY_S, max_retries=1)
        got, error = on_a_thread(lambda: run(llm.stream(REQ)))
    assert got == [] and isinstance(error, RetriesExhaustedError) and error.attempts == 2
    assert isinstance(error.last_error, LLMTimeoutError) and server.requests == 2


@pytest.mark.parametrize("bound", [{"deadline_s": TINY_S}, {"max_stream_s": TINY_S}])
def test_a_stream_that_never_ends_is_cut_at_its_bound(bound: dict[str, float]) -> None:
    with StreamServer(text_forever) as server:
        llm = sync_client(anthropic_provider(server), timeout_s=5.0, **bound)
        got, error = on_a_thread(lambda: run(llm.stream(REQ)))
    assert got and set(got) == {"la "} and isinstance(error, StreamInterruptedError)
    assert isinstance(error.cause, LLMTimeoutError) and "passed its bound" in str(error.cause.__cause__)


def test_a_connection_cut_mid_stream_is_interrupted() -> None:
    with StreamServer(text_then_cut) as server:
        got, error = on_a_thread(lambda: run(sync_client(anthropic_provider(server)).stream(REQ)))
    assert got == ["Hel"] and isinstance(error, StreamInterruptedError)
    assert isinstance(error.cause, LLMConnectionError) and server.requests == 1


def test_closing_the_iterator_early_closes_the_connection_at_once() -> None:
    with StreamServer(text_forever) as server:
        stream = sync_client(anthropic_provider(server), timeout_s=5.0).stream(REQ)
        assert on_a_thread(lambda: next(stream)) == "la "
        stream.close()  # type: ignore[attr-defined]
        assert server.hung_up.wait(5.0), "the server kept writing into an open connection"


def test_cancelling_the_async_task_closes_the_connection_at_once() -> None:
    with StreamServer(text_forever) as server:

        async def main() -> None:
            llm = AsyncLLMClient(anthropic_provider(server), timeout_s=5.0)
            first = asyncio.Event()

            async def consume() -> None:
                async for _ in llm.stream(REQ):
                    first.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(first.wait(), 5.0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await llm.aclose()

        on_a_thread(lambda: asyncio.run(main()))
        assert server.hung_up.wait(5.0), "the server kept writing into an open connection"


def test_leaving_a_for_loop_early_closes_the_connection_at_once() -> None:
    """``break`` drops the iterator; the generator is closed then, and its connection with it."""
    with StreamServer(text_forever) as server:

        def first_only() -> None:
            for _ in sync_client(anthropic_provider(server), timeout_s=5.0).stream(REQ):
                break

        on_a_thread(first_only)
        assert server.hung_up.wait(5.0), "the server kept writing into an open connection"


def test_leaving_an_async_for_early_closes_the_connection_while_the_loop_runs() -> None:
    """``break`` out of ``async for`` drops the async iterator: asyncio's finalizer hook schedules its
    ``aclose()`` on the running loop, which closes the connection without waiting for the loop to end."""
    with StreamServer(text_forever) as server:

        async def main() -> bool:
            llm = AsyncLLMClient(anthropic_provider(server), timeout_s=5.0)
            async for _ in llm.stream(REQ):
                break
            closed = await asyncio.to_thread(server.hung_up.wait, 5.0)  # the loop still runs meanwhile
            await llm.aclose()
            return closed

        assert on_a_thread(lambda: asyncio.run(main())), "the connection stayed open while the loop ran"


def test_the_async_stream_keeps_the_idle_bound_through_comments() -> None:
    with StreamServer(text_then_comments) as server:
        llm = AsyncLLMClient(openai_provider(server), timeout_s=TINY_S)
        got, error = on_a_thread(lambda: asyncio.run(arun(llm)))
    assert got == ["Hi"] and isinstance(error, StreamInterruptedError)
    assert isinstance(error.cause, LLMTimeoutError)


def then_end(*events: str) -> Behaviour:
    """Send ``events``, then end the body cleanly (the last chunk): no [DONE], no message_stop."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        for event in events:
            send(conn, event)
        conn.sendall(b"0\r\n\r\n")

    return behaviour


OPENAI_ERROR = 'data: {"error": {"message": "boom", "type": "server_error", "code": "overloaded"}}\n\n'
ANTHROPIC_ERROR = (
    'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
)
BROKEN_STREAMS = {
    "openai, an empty body": ("openai", then_end()),
    "openai, a chunk that is not JSON": ("openai", then_end("data: {not json\n\n")),
    "openai, an error event first": ("openai", then_end(OPENAI_ERROR)),
    "openai, text then an error event": ("openai", then_end(openai_text("Hi"), OPENAI_ERROR)),
    "openai, text then the end without [DONE]": ("openai", then_end(openai_text("Hi"))),
    "anthropic, an empty body": ("anthropic", then_end()),
    "anthropic, an error event first": ("anthropic", then_end(ANTHROPIC_ERROR)),
    "anthropic, text then the end without message_stop": ("anthropic", then_end(anthropic_text("Hi"))),
}


def _provider_error(error: BaseException) -> ProviderError | None:
    """The provider's error behind ``error``: itself, the last attempt's, or what interrupted the stream."""
    for candidate in (error, getattr(error, "last_error", None), getattr(error, "cause", None), error.__cause__):
        if isinstance(candidate, ProviderError):
            return candidate
    return None


@pytest.mark.parametrize("case", BROKEN_STREAMS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_broken_after_a_2xx_ends_in_an_llm_error_with_the_request_id(case: str, mode: str) -> None:
    """After a 2xx the body is consumed as it streams: mapping what went wrong reads only the headers,
    never the body again (reading it raised httpx's ResponseNotRead, which escaped the client)."""
    kind, behaviour = BROKEN_STREAMS[case]
    with StreamServer(behaviour) as server:
        provider = openai_provider(server) if kind == "openai" else anthropic_provider(server)
        if mode == "sync":
            got, error = on_a_thread(lambda: run(sync_client(provider, max_retries=0).stream(REQ)))
        else:
            llm = AsyncLLMClient(provider, max_retries=0, sleep=lambda s: asyncio.sleep(0))
            got, error = on_a_thread(lambda: asyncio.run(arun(llm)))
    assert isinstance(error, LLMError), f"{case}: {error!r} escaped the client"
    assert got == (["Hi"] if "text then" in case else [])
    if got:
        assert isinstance(error, StreamInterruptedError) and error.partial_text == "Hi"
    provider_error = _provider_error(error)
    assert provider_error is not None and provider_error.request_id == REQUEST_ID, f"{case}: {error!r}"
