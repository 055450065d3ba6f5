"""The client against servers that misbehave on purpose, on loopback.

Each server is a thread the test starts and stops; every server write loop
ends when the test ends (a stop event) or the client hangs up, so nothing
outlives its test. The trickling servers send one byte every 0.2 s: with a
0.5 s timeout an unbounded read would run for minutes, a bounded one ends in
about half a second. No assertion is about time: each test proves that the
call ended, and with which error.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest
from provider_payloads import SENTINEL_KEY, openai_completion

from llm_client import AnthropicProvider, AsyncLLMClient, LLMClient, LLMRequest, OpenAIProvider
from llm_client.errors import (
    LLMError,
    LLMTimeoutError,
    RedirectError,
    ResponseTooLargeError,
    RetriesExhaustedError,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-test", prompt="Say hi.")
TRICKLE_GAP_S = 0.2
TIMEOUT_S = 0.5

Behaviour = Callable[[socket.socket, bytes, threading.Event], None]


class LoopbackServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers every request with ``behaviour``.

    ``requests`` counts the requests that reached it (so a test can tell a retry
    or a followed redirect). ``read`` reads one request from a connection (None
    when the client hung up); a server that speaks something else first, such as
    TLS, passes its own.
    """

    def __init__(self, behaviour: Behaviour, read: Callable[[socket.socket], bytes | None] | None = None) -> None:
        self.behaviour = behaviour
        self._read = read or _read_request  # what a request is: by default an HTTP/1.1 one
        self.stop = threading.Event()
        self.requests = 0
        self.seen: list[bytes] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LoopbackServer:
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
            while not self.stop.is_set():
                request = self._read(conn)
                if request is None:
                    return
                with self._lock:
                    self.requests += 1
                    self.seen.append(request)
                self.behaviour(conn, request, self.stop)
        except OSError:
            return
        finally:
            conn.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _trickle(conn: socket.socket, data: bytes, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(TRICKLE_GAP_S):
            return
        conn.sendall(bytes([byte]))


ANSWER = json.dumps(openai_completion("Hi!")).encode()


def trickle_body(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER))
    _trickle(conn, ANSWER, stop)


def trickle_head(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER)
    _trickle(conn, head + ANSWER, stop)


@pytest.fixture(params=["body", "head"])
def trickler(request: pytest.FixtureRequest) -> Iterator[LoopbackServer]:
    with LoopbackServer(trickle_body if request.param == "body" else trickle_head) as server:
        yield server


@pytest.fixture(params=["own-client", "given-client"])
def http_client(request: pytest.FixtureRequest) -> Iterator[httpx.Client | None]:
    """None: the provider makes its own httpx.Client (bounded on the caller's thread); or a client
    the caller gives, with any transport (bounded from a worker thread)."""
    if request.param == "own-client":
        yield None
    else:
        with httpx.Client() as client:
            yield client


def test_a_trickling_server_cannot_hold_one_attempt_past_its_timeout(
    trickler: LoopbackServer, http_client: httpx.Client | None
) -> None:
    provider = OpenAIProvider(api_key="k", base_url=trickler.base_url, http_client=http_client)
    with pytest.raises(LLMTimeoutError) as caught:
        provider.complete(REQ, timeout_s=TIMEOUT_S)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert "within the attempt's timeout" in str(caught.value.__cause__)
    provider.close()


def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(
    trickler: LoopbackServer, http_client: httpx.Client | None
) -> None:
    provider = OpenAIProvider(api_key="k", base_url=trickler.base_url, http_client=http_client)
    with LLMClient(provider, timeout_s=TIMEOUT_S, deadline_s=1.2, max_retries=10, sleep=lambda s: None) as client:
        with pytest.raises(RetriesExhaustedError) as caught:
            client.call(REQ)
    assert isinstance(caught.value.last_error, LLMTimeoutError)
    assert trickler.requests <= 4, "each attempt is cut at its timeout, and the deadline shortens the last"


def _attempt_on_a_thread(
    base_url: str, http_client: httpx.Client | None
) -> tuple[threading.Thread, list[BaseException]]:
    """One ``complete()`` started on a thread of its own; the list receives what it raised."""
    outcome: list[BaseException] = []

    def attempt() -> None:
        provider = OpenAIProvider(api_key="k", base_url=base_url, http_client=http_client)
        try:
            provider.complete(REQ, timeout_s=TIMEOUT_S)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=attempt, daemon=True)
    caller.start()
    return caller, outcome


def _ends(caller: threading.Thread) -> bool:
    """True when the attempt ended within 40 times its timeout, far past the bound (whatever
    holds it is then released by the test, which frees the caller)."""
    caller.join(timeout=40 * TIMEOUT_S)
    return not caller.is_alive()


def endless_header(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """A header that never ends, one byte every TRICKLE_GAP_S, until the test ends or the client hangs up."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nx-slow: ")
    while not stop.wait(TRICKLE_GAP_S):
        conn.sendall(b"a")


def test_a_header_that_never_ends_cannot_hold_an_attempt(http_client: httpx.Client | None) -> None:
    with LoopbackServer(endless_header) as server:
        caller, outcome = _attempt_on_a_thread(server.base_url, http_client)
        ended = _ends(caller)
    caller.join(timeout=5)
    assert ended, "the attempt was still reading the endless header long after its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], LLMTimeoutError), outcome


def test_through_a_proxy_the_environment_names_an_attempt_is_still_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(endless_header) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        provider = OpenAIProvider(api_key="k", base_url="http://llm.example.invalid/v1")
        with pytest.raises(LLMTimeoutError):
            provider.complete(REQ, timeout_s=TIMEOUT_S)
        provider.close()
    assert proxy.requests == 1 and proxy.seen[0].startswith(b"POST http://llm.example.invalid/v1/"), "it went through"


def test_a_name_resolver_that_hangs_cannot_hold_an_attempt(
    http_client: httpx.Client | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    asked: list[str] = []

    def hanging_getaddrinfo(host: str, *args: object, **kwargs: object) -> list[object]:
        asked.append(host)
        released.wait(timeout=30)  # held until the test ends
        raise socket.gaierror(socket.EAI_NONAME, "no such name")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_getaddrinfo)
    caller, outcome = _attempt_on_a_thread("http://llm.example.invalid/v1", http_client)
    ended = _ends(caller)
    released.set()
    caller.join(timeout=5)
    assert asked == ["llm.example.invalid"], "the resolver was asked"
    assert ended, "the attempt was still waiting for the resolver long after its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], LLMTimeoutError), outcome


def endless_informational(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """``100 Continue`` after ``100 Continue``, each complete, never the final response."""
    while not stop.wait(TRICKLE_GAP_S / 2):
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")


def answer_at_once(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(ANSWER))
    conn.sendall(ANSWER)


def test_a_server_that_never_finishes_its_headers_cannot_use_up_a_given_clients_pool() -> None:
    with LoopbackServer(endless_informational) as bad, LoopbackServer(answer_at_once) as good:
        with httpx.Client(limits=httpx.Limits(max_connections=2)) as http:
            to_bad = OpenAIProvider(api_key="k", base_url=bad.base_url, http_client=http)
            for _ in range(3):  # more than the pool holds
                with pytest.raises(LLMTimeoutError):
                    to_bad.complete(REQ, timeout_s=TIMEOUT_S)
            to_good = OpenAIProvider(api_key="k", base_url=good.base_url, http_client=http)
            answer = to_good.complete(REQ, timeout_s=TIMEOUT_S)
    assert answer.text == "Hi!"
    assert bad.requests == 3, "each attempt reached the bad server on a connection of its own"


def _first_bytes(conn: socket.socket) -> bytes | None:
    return conn.recv(65536) or None


def endless_tls_handshake(conn: socket.socket, hello: bytes, stop: threading.Event) -> None:
    """Answers a ClientHello with a TLS record header promising 16 KiB, then one byte every TRICKLE_GAP_S."""
    conn.sendall(bytes([0x16, 0x03, 0x03, 0x40, 0x00]))
    while not stop.wait(TRICKLE_GAP_S):
        conn.sendall(b"\x00")


def test_a_tls_handshake_that_never_ends_cannot_hold_an_attempt(http_client: httpx.Client | None) -> None:
    with LoopbackServer(endless_tls_handshake, read=_first_bytes) as server:
        caller, outcome = _attempt_on_a_thread(f"https://127.0.0.1:{server.port}/v1", http_client)
        ended = _ends(caller)
    caller.join(timeout=5)
    assert server.seen and server.seen[0][:1] == b"\x16", "the client began a handshake (a TLS handshake record)"
    assert ended, "the attempt was still in its TLS handshake long after its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], LLMTimeoutError), outcome


def test_a_trickling_server_cannot_hold_an_async_attempt_or_call(trickler: LoopbackServer) -> None:
    async def scenario() -> tuple[BaseException, BaseException]:
        provider = AnthropicProvider(api_key="k", base_url=trickler.base_url.removesuffix("/v1"))
        async with AsyncLLMClient(provider, timeout_s=TIMEOUT_S, deadline_s=1.2, max_retries=10) as client:
            with pytest.raises(LLMTimeoutError) as attempt:
                await provider.acomplete(REQ, timeout_s=TIMEOUT_S)
            with pytest.raises(RetriesExhaustedError) as call:
                await client.call(REQ)
        return attempt.value, call.value

    attempt, call = asyncio.run(scenario())
    assert isinstance(attempt.__cause__, httpx.TimeoutException)
    assert isinstance(call, RetriesExhaustedError) and isinstance(call.last_error, LLMTimeoutError)


# -- bounded memory ---------------------------------------------------------------------------


def huge_body(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    size = 200 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % size)
    block = b" " * 65536
    for _ in range(size // len(block)):
        if stop.is_set():
            return
        conn.sendall(block)


@functools.cache
def bomb() -> bytes:
    """About 100 KB of gzip that unpacks to 100 MB, built without holding the 100 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * (1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(100)) + packer.flush()


def gzip_bomb(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        b"content-length: %d\r\n\r\n" % len(bomb())
    )
    conn.sendall(bomb())


@pytest.mark.parametrize("behaviour", [huge_body, gzip_bomb], ids=["200MB-body", "gzip-bomb"])
def test_a_body_past_max_response_bytes_is_refused_while_reading_and_never_retried(behaviour: Behaviour) -> None:
    limit = 1024 * 1024
    with LoopbackServer(behaviour) as server:
        provider = OpenAIProvider(api_key="k", base_url=server.base_url, max_response_bytes=limit)
        tracemalloc.start()
        try:
            with LLMClient(provider, timeout_s=10.0, max_retries=3, sleep=lambda s: None) as client:
                with pytest.raises(ResponseTooLargeError) as caught:
                    client.call(REQ)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.limit_bytes == limit and "max_response_bytes" in str(caught.value)
    assert server.requests == 1, "a body too large is not retried"
    assert peak < 8 * limit, f"reading held {peak} bytes for a {limit}-byte limit"


def test_a_gzip_bomb_is_refused_on_the_async_path_too() -> None:
    with LoopbackServer(gzip_bomb) as server:
        provider = OpenAIProvider(api_key="k", base_url=server.base_url, max_response_bytes=1024 * 1024)

        async def scenario() -> None:
            with pytest.raises(ResponseTooLargeError):
                await provider.acomplete(REQ, timeout_s=10.0)
            await provider.aclose()

        asyncio.run(scenario())


def test_a_gzipped_answer_within_the_limit_is_read() -> None:
    packed = gzip.compress(ANSWER)

    def gzipped(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"content-length: %d\r\n\r\n" % len(packed) + packed
        )

    with LoopbackServer(gzipped) as server:
        provider = OpenAIProvider(api_key="k", base_url=server.base_url, max_response_bytes=len(ANSWER))
        assert provider.complete(REQ, timeout_s=5.0).text == "Hi!"
        provider.close()


# -- no redirects -----------------------------------------------------------------------------


def redirect_elsewhere(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    target = f"http://user:{SENTINEL_KEY}@127.0.0.1:9/steal?key={SENTINEL_KEY}".encode()
    conn.sendall(b"HTTP/1.1 302 Found\r\nlocation: " + target + b"\r\ncontent-length: 0\r\n\r\n")


@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
def test_a_redirect_is_never_followed_even_by_a_client_that_follows_them(provider_name: str) -> None:
    with LoopbackServer(redirect_elsewhere) as server, httpx.Client(follow_redirects=True) as http:
        provider: OpenAIProvider | AnthropicProvider
        if provider_name == "openai":
            provider = OpenAIProvider(api_key=SENTINEL_KEY, base_url=server.base_url, http_client=http)
        else:
            provider = AnthropicProvider(api_key=SENTINEL_KEY, base_url=server.base_url, http_client=http)
        with LLMClient(provider, max_retries=3, sleep=lambda s: None) as client:
            with pytest.raises(RedirectError) as caught:
                client.call(REQ)
    error = caught.value
    assert error.status_code == 302 and not error.retryable
    assert error.location is not None and "127.0.0.1:9/steal" in error.location
    assert SENTINEL_KEY not in str(error) and SENTINEL_KEY not in error.location
    assert server.requests == 1, "tried once, and never sent anywhere else"


def test_a_redirect_is_refused_on_the_async_path_with_a_following_client() -> None:
    async def scenario(base_url: str) -> LLMError:
        async with httpx.AsyncClient(follow_redirects=True) as http:
            provider = OpenAIProvider(api_key=SENTINEL_KEY, base_url=base_url, async_http_client=http)
            try:
                await provider.acomplete(REQ, timeout_s=5.0)
            except LLMError as exc:
                return exc
        raise AssertionError("a redirect gave an answer")

    with LoopbackServer(redirect_elsewhere) as server:
        error = asyncio.run(scenario(server.base_url))
    assert isinstance(error, RedirectError) and SENTINEL_KEY not in str(error)
    assert server.requests == 1
