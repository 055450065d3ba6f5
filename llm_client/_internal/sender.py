"""The one HTTP sender of the HTTP providers, sync and async.

A provider's ``complete`` posts through :meth:`HTTPSender.post`, which looks
like ``httpx.Client.post`` (it returns an ``httpx.Response`` of any status and
raises ``httpx`` exceptions) but keeps four promises that httpx alone does not:

- **Wall-clock bound.** One attempt (connect, send, every read and the whole
  body together) ends within ``timeout`` seconds, however the server paces its
  bytes: httpx's timeouts bound each read, not the attempt, so a server that
  trickles one byte at a time would otherwise hold a call forever. Past the
  bound, ``httpx.ReadTimeout`` is raised. Sync attempts through the
  ``httpx.Client`` made here run on the caller's thread, every socket
  operation cut to what is left of the attempt
  (:mod:`~llm_client._internal.attempt_deadline`); through a client the
  caller gave (any transport), or through a proxy the environment names, on
  a reused worker thread that the caller stops waiting for, hanging up the
  connections the attempt opened. Async attempts run under
  ``asyncio.timeout``.
- **Bounded memory.** A body, counted after decompression, larger than
  ``max_response_bytes`` raises :class:`~llm_client.errors.ResponseTooLargeError`
  while it is read. An error body is read only up to a few kilobytes.
- **No redirects,** whatever ``httpx.Client`` the caller gave: a 3xx raises
  :class:`~llm_client.errors.RedirectError` naming the status and the target
  (credentials redacted). A redirect would carry the key and the prompt away.
- **No echoed key in httpx's errors:** an httpx error (and what it chains) never
  quotes a credential the request sent, even when a server put it in a
  malformed status or header line.
- **One body encoding decoder** (:mod:`~llm_client._internal.body`): only
  gzip and deflate are asked for.

The async path (:meth:`HTTPSender.afetch`) fetches the same bounded response
without blocking the event loop; the provider then runs its one ``complete``
over that outcome (:meth:`HTTPSender.replaying`), so the error mapping is
written once, in ``complete``, for both paths.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from typing import Any

import httpx

from llm_client._internal.async_http import AsyncHTTP
from llm_client._internal.attempt_deadline import BoundedTransport, attempt_ends
from llm_client._internal.body import ACCEPT_ENCODING, BoundedBody
from llm_client._internal.checks import check_int
from llm_client._internal.http_support import redact_credentials, redact_exception
from llm_client.errors import ClientClosedError, ProviderError, RedirectError

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "HTTPSender"]

#: 8 MiB: a chat answer at the largest output limits (about 128k tokens, JSON-escaped) fits several times.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024

#: How much of an error body is kept: enough for any provider's message.
ERROR_BODY_BYTES = 64 * 1024

#: Seconds the wall-clock bound allows past an attempt's timeout: none. Tests that run the
#: client on a fake clock (where a mocked attempt takes no simulated time) raise it.
WALL_CLOCK_SLACK_S = 0.0

_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")

Outcome = httpx.Response | BaseException

_replay: contextvars.ContextVar[list[Outcome] | None] = contextvars.ContextVar("llm_client_replay", default=None)


class HTTPSender:
    """Sends a provider's POSTs; see the module docstring for what it promises.

    ``provider`` names the provider in errors. ``http_client`` is the
    ``httpx.Client`` for sync posts (by default one made here, closed by
    :meth:`close`); ``async_http_client`` the ``httpx.AsyncClient`` for async
    ones (by default one per event loop, closed by :meth:`aclose`).
    ``max_response_bytes`` (an int >= 1) bounds a successful body, counted after
    decompression.
    """

    def __init__(
        self,
        *,
        provider: str,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(f"http_client must be an httpx.Client, got {type(http_client).__name__}")
        check_int("max_response_bytes", max_response_bytes, minimum=1)
        self.provider = provider
        self.max_response_bytes = max_response_bytes
        self._owns_http = http_client is None
        self._bounded = BoundedTransport() if http_client is None and not _proxies_in_environment() else None
        self._http = http_client if http_client is not None else httpx.Client(transport=self._bounded)
        self._async = AsyncHTTP(async_http_client)
        self._closed = False

    def __repr__(self) -> str:
        return f"HTTPSender(provider={self.provider!r}, max_response_bytes={self.max_response_bytes})"

    @property
    def is_closed(self) -> bool:
        """True once the sync ``httpx.Client`` is closed."""
        return self._http.is_closed

    # -- sync --------------------------------------------------------------------------------

    def post(self, url: str, *, json: Any, headers: dict[str, str], timeout: float) -> httpx.Response:
        """POST ``json`` to ``url``; return the fully read response, whatever its status.

        ``timeout`` (seconds) bounds the whole attempt. Raises what httpx raises
        (``httpx.ReadTimeout`` past the bound), RedirectError on a 3xx and
        ResponseTooLargeError past ``max_response_bytes``.
        """
        replayed = _replay.get()
        if replayed is not None:
            return _take(replayed)
        self._refuse_if_closed(self._http.is_closed)
        request = self._http.build_request("POST", url, json=json, headers=_asking(headers), timeout=timeout)
        wall_s = timeout + WALL_CLOCK_SLACK_S
        give_up = time.monotonic() + wall_s
        if self._bounded is not None:
            return self._post_here(request, timeout, give_up)
        stop = threading.Event()
        result: Future[httpx.Response] = Future()
        opened = _OpenedStreams(stop)
        request.extensions["trace"] = opened.trace

        def work() -> None:
            try:
                result.set_result(self._exchange(request, timeout, give_up, stop))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                result.set_exception(exc)

        _WORKERS.run(work)
        try:
            return result.result(timeout=wall_s)
        except (httpx.HTTPError, ProviderError) as exc:
            redact_exception(exc, request)
            raise
        except TimeoutError:
            if result.done():  # finished just now: its own outcome, not ours
                return result.result()
            stop.set()
            opened.hang_up()
            raise _timed_out(request, timeout) from None

    def _post_here(self, request: httpx.Request, timeout: float, give_up: float) -> httpx.Response:
        """One attempt on the caller's thread, its sockets bounded by ``give_up``."""
        try:
            with attempt_ends(give_up):
                return self._exchange(request, timeout, give_up, _NEVER)
        except (httpx.HTTPError, ProviderError) as exc:
            if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= give_up:
                raise _timed_out(request, timeout) from None
            redact_exception(exc, request)
            raise

    def _exchange(
        self, request: httpx.Request, timeout: float, give_up: float, stop: threading.Event
    ) -> httpx.Response:
        """One attempt on the worker thread; it stops reading once ``stop`` is set or ``give_up`` passed."""
        response = self._http.send(request, stream=True, follow_redirects=False)
        try:
            body = self._body(response)
            for raw in [response.content] if _in_memory(response) else response.iter_raw():
                body.feed(raw)
                if stop.is_set() or time.monotonic() > give_up:
                    raise _timed_out(request, timeout)
                if body.full:
                    break
        finally:
            response.close()
        return _finished(response, body)

    # -- async -------------------------------------------------------------------------------

    async def afetch(self, url: str, *, json: Any, headers: dict[str, str], timeout: float) -> Outcome:
        """:meth:`post`, awaited, with its outcome returned instead of raised (for :meth:`replaying`).

        Only the exceptions :meth:`post` raises are returned; anything else
        (a programming error) is raised at once.
        """
        self._refuse_if_closed(False)
        client = self._async.client()
        self._refuse_if_closed(client.is_closed)
        request = client.build_request("POST", url, json=json, headers=_asking(headers), timeout=timeout)
        try:
            async with asyncio.timeout(timeout + WALL_CLOCK_SLACK_S):
                return await self._aexchange(client, request)
        except TimeoutError:
            return _timed_out(request, timeout)
        except (httpx.HTTPError, ProviderError) as exc:
            redact_exception(exc, request)
            return exc

    async def _aexchange(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            body = self._body(response)
            if _in_memory(response):
                body.feed(response.content)
            else:
                async for raw in response.aiter_raw():
                    body.feed(raw)
                    if body.full:
                        break
        finally:
            await response.aclose()
        return _finished(response, body)

    @contextmanager
    def replaying(self, outcome: Outcome) -> Iterator[None]:
        """Within the block, the next :meth:`post` in this thread or task returns (or raises) ``outcome``.

        A second post in the block raises RuntimeError: one attempt posts once.
        """
        token = _replay.set([outcome])
        try:
            yield
        finally:
            _replay.reset(token)

    # -- shared ------------------------------------------------------------------------------

    def _body(self, response: httpx.Response) -> BoundedBody:
        """The reader for ``response``'s body; a 3xx is refused instead."""
        status = response.status_code
        if 300 <= status < 400:
            raise _redirect(response, self.provider)
        success = 200 <= status < 300
        return BoundedBody(
            "" if _in_memory(response) else response.headers.get("content-encoding", ""),
            limit=self.max_response_bytes if success else min(self.max_response_bytes, ERROR_BODY_BYTES),
            truncate=not success,
            provider=self.provider,
            status=status,
        )

    def _refuse_if_closed(self, client_closed: bool) -> None:
        """Raise ClientClosedError when this sender, or the httpx client it would send with, is closed."""
        if self._closed or client_closed:
            raise ClientClosedError(
                f"{self.provider}: this provider (or the httpx client it sends with) was closed; make a new one"
            )

    def close(self) -> None:
        """Close the ``httpx.Client`` made here (a given one is the caller's to close); no request leaves after."""
        self._closed = True
        if self._owns_http:
            self._http.close()

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` made here (a given one is the caller's to close); no request leaves
        after, sync or async."""
        self._closed = True
        await self._async.aclose()


class _Workers:
    """Daemon threads that run attempts, reused (a new thread per attempt costs about half a
    millisecond); a thread idle for ``idle_s`` seconds ends. A thread still held by a server
    that stopped answering is simply not reused until it lets go."""

    def __init__(self, idle_s: float = 30.0) -> None:
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Callable[[], None]]] = []

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="llm-client-http", daemon=True).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[Callable[[], None]]) -> None:
        while True:
            try:
                job = inbox.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:
                        self._idle.remove(inbox)
                        return
                continue  # handed a job just now: it is on its way
            job()
            with self._lock:
                self._idle.append(inbox)


_WORKERS = _Workers()


class _OpenedStreams:
    """The connections an attempt on a worker thread opened, as httpcore's ``trace`` extension
    reports them, so that a caller who stopped waiting can hang up on the server.

    Shutting the socket down wakes the worker's blocked read, which frees the
    worker and the caller's pooled connection even from a server that never
    finishes its headers. A connection the attempt reused from the pool is not
    reported, and is left to the server; a transport that is not httpcore's
    reports nothing.
    """

    _EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._sockets: list[Any] = []

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event in self._EVENTS:
            sock = getattr(info.get("return_value"), "get_extra_info", lambda name: None)("socket")
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock)
                if self._stop.is_set():  # opened after the caller stopped waiting
                    self.hang_up()

    def hang_up(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


#: The stop signal of an attempt on the caller's thread: never set (its sockets keep the bound).
_NEVER = threading.Event()


def _proxies_in_environment() -> bool:
    """True when the environment names a proxy (``HTTPS_PROXY`` and the like, read as httpx reads them).

    httpx routes such requests through proxy transports of its own, which a
    client given one transport would lose; the sender then makes a plain
    ``httpx.Client`` and bounds its attempts from a worker thread.
    """
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def _in_memory(response: httpx.Response) -> bool:
    """True for a response made in memory (a mock transport's), whose content is already decoded."""
    return response.is_stream_consumed


def _asking(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "accept-encoding": ACCEPT_ENCODING}


def _take(replayed: list[Outcome]) -> httpx.Response:
    if not replayed:
        raise RuntimeError("one attempt posts once: complete() posted a second time while replaying")
    outcome = replayed.pop()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _timed_out(request: httpx.Request, timeout: float) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"no complete answer within the attempt's timeout ({timeout:g} s)", request=request)


def _finished(response: httpx.Response, body: BoundedBody) -> httpx.Response:
    """A read response holding the decoded ``body`` (so nothing decodes it twice)."""
    # The raw bytes, as the server sent them: a value outside ASCII (a UTF-8 digit, a stray 0xff) survives to
    # be read, and judged, where it is used, instead of failing here to be encoded again.
    headers = [(k, v) for k, v in response.headers.raw if k.lower().decode("latin-1") not in _DROPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body.content(),
        request=response.request,
        extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
    )


def _redirect(response: httpx.Response, provider: str) -> RedirectError:
    status = response.status_code
    location = response.headers.get("location")
    target = _redacted_location(location, response) if location else None
    where = f" to {target}" if target else " (no Location)"
    return RedirectError(
        f"{provider} answered HTTP {status}, a redirect{where}; redirects are never followed "
        "(they would carry the key and the prompt elsewhere): check base_url",
        location=target,
        status_code=status,
    )


def _redacted_location(location: str, response: httpx.Response) -> str:
    text = redact_credentials(location, response)
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        return text[:200]
    if url.userinfo:
        url = url.copy_with(username="redacted", password=None)
    return str(url)[:200]
