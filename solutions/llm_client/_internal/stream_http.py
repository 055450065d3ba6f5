"""One streamed attempt over HTTP, sync and async: the sender's promises, kept for a body that never ends on its own.

:func:`stream_attempt` (and :func:`astream_attempt`, awaited) posts the
provider's streaming payload and yields the text deltas, then one
:class:`~llm_client._internal.stream_core.StreamEnd`; every failure is a
ProviderError chained to its cause, as in ``complete``:

- **Time.** Every read ends by the attempt's :class:`StreamTimer` (``timeout_s``
  to the first text delta and between deltas, pings and comments not
  counting; the whole stream within ``total_s``). With the ``httpx.Client``
  the sender made, the sockets themselves keep that bound
  (:mod:`~llm_client._internal.attempt_deadline`); async reads run under
  ``asyncio.timeout_at``. With an ``httpx.Client`` the caller gave (or
  through a proxy), each read is bounded by httpx's read timeout
  (``timeout_s``) and the bounds are checked between reads.
- **Memory.** The body, counted after decompression over the whole stream,
  stops at ``max_response_bytes`` with ResponseTooLargeError; an error body
  is read only up to a few kilobytes.
- **No redirects; no echoed key** in an error, as for ``complete``.
- **Closing.** Closing the generator (or cancelling the task) closes the
  response at once; a response not read to its end is never put back in the
  pool, so the connection is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import httpx

from llm_client._internal.attempt_deadline import attempt_ends
from llm_client._internal.body import BoundedBody
from llm_client._internal.http_support import redact_exception, request_id_of
from llm_client._internal.sender import HTTPSender, _asking, _finished, _in_memory
from llm_client._internal.stream_core import StreamEnd, StreamReading, StreamTimer
from llm_client.errors import ProviderError, ResponseTooLargeError
from llm_client.providers.base import check_attempt
from llm_client.request import LLMRequest

if TYPE_CHECKING:
    from llm_client.providers.http import HTTPProvider

__all__ = ["astream_attempt", "stream_attempt"]

StreamPiece = str | StreamEnd
#: ``(error_for_response, error_for_transport)``: how a provider maps a response and an httpx error.
ErrorMaps = tuple[Callable[..., ProviderError], Callable[..., Exception]]


class _Opened:
    """A streamed response as it arrived: ``error`` is the fully read (bounded) error response of a
    non-2xx; ``chunks`` the decoded body, a piece at a time (sync: an iterator; async: an async one)."""

    def __init__(self, response: httpx.Response, error: httpx.Response | None, chunks: Any) -> None:
        self.response = response
        self.error = error
        self.chunks = chunks


def _success_body(sender: HTTPSender, response: httpx.Response) -> BoundedBody:
    return BoundedBody(
        "" if _in_memory(response) else response.headers.get("content-encoding", ""),
        limit=sender.max_response_bytes,
        truncate=False,
        provider=sender.provider,
        status=response.status_code,
    )


def _request(
    http: httpx.Client | httpx.AsyncClient, url: str, json: Any, headers: dict[str, str], timer: StreamTimer
) -> httpx.Request:
    return http.build_request("POST", url, json=json, headers=_asking(headers), timeout=timer.idle_s)


def _tag(exc: ProviderError, response: httpx.Response | None) -> None:
    """Give ``exc`` the provider's id of the request, from the headers: a streamed body is never read again."""
    if response is not None and exc.request_id is None:
        exc.request_id = request_id_of(response)


# -- sync ----------------------------------------------------------------------------------------


@contextmanager
def _open(sender: HTTPSender, url: str, json: Any, headers: dict[str, str], timer: StreamTimer) -> Iterator[_Opened]:
    sender._refuse_if_closed(sender._http.is_closed)
    request = _request(sender._http, url, json, headers, timer)
    bounded = sender._bounded is not None

    def within() -> AbstractContextManager[None]:
        if timer.expired():
            raise timer.timed_out(request)
        return attempt_ends(timer.read_by()) if bounded else nullcontext()

    response: httpx.Response | None = None
    try:
        try:
            with within():
                response = sender._http.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException:
            if timer.expired():
                raise timer.timed_out(request) from None
            raise
        error = None
        if not response.is_success:
            body = sender._body(response)  # a 3xx raises RedirectError here
            for raw in [response.content] if _in_memory(response) else response.iter_raw():
                body.feed(raw)
                if body.full or timer.expired():
                    break
            error = _finished(response, body)
        yield _Opened(response, error, _chunks(sender, response, request, timer, within))
    except (httpx.HTTPError, ProviderError) as exc:
        redact_exception(exc, request)
        if isinstance(exc, ProviderError):
            _tag(exc, response)
        raise
    finally:
        if response is not None:
            response.close()


def _chunks(
    sender: HTTPSender,
    response: httpx.Response,
    request: httpx.Request,
    timer: StreamTimer,
    within: Any,
) -> Iterator[bytes]:
    body = _success_body(sender, response)
    if _in_memory(response):  # a mock transport's body: read in network-sized pieces all the same
        for piece in _pieces(response.content):
            yield from _decoded(body, piece)
        return
    raw = response.iter_raw()
    while True:
        try:
            with within():
                chunk = next(raw, None)
        except httpx.TimeoutException:
            if timer.expired():
                raise timer.timed_out(request) from None
            raise
        if chunk is None:
            return
        yield from _decoded(body, chunk)


def _pieces(content: bytes, size: int = 1024) -> list[bytes]:
    return [content[start : start + size] for start in range(0, len(content), size)]


def _decoded(body: BoundedBody, chunk: bytes) -> Iterator[bytes]:
    """The bytes ``chunk`` decodes to; past ``max_response_bytes``, what fitted first, then the error."""
    try:
        body.feed(chunk)
    except ResponseTooLargeError:
        kept = body.take()
        if kept:
            yield kept
        raise
    out = body.take()
    if out:
        yield out


def stream_attempt(
    provider: HTTPProvider, req: LLMRequest, *, timeout_s: float, total_s: float, errors: ErrorMaps
) -> Iterator[StreamPiece]:
    """One streamed attempt of ``provider``: the text deltas, then a StreamEnd; or a ProviderError.

    ``errors`` is ``(error_for_response, error_for_transport)`` of ``providers/http.py``: the same
    mapping as ``complete``."""
    error_for_response, error_for_transport = errors
    from llm_client.streaming import parse_sse_block  # exercise 8

    check_attempt(req, timeout_s)
    headers = provider.headers()
    payload = provider.stream_payload(req)
    reading = StreamReading(provider.name, provider.stream_decoder(), parse_sse_block)
    timer = StreamTimer(timeout_s, total_s)
    try:
        with _open(provider._http, provider.url, payload, headers, timer) as opened:
            if opened.error is not None:
                raise error_for_response(opened.error, provider=provider.name)
            for chunk in opened.chunks:
                for text in reading.feed(chunk):
                    timer.text_arrived()
                    yield text
                if reading.done:
                    break
            end = reading.finish()
        yield _with_id(end, opened.response)
    except httpx.HTTPError as exc:
        raise error_for_transport(exc, provider=provider.name) from exc


def _with_id(end: StreamEnd, response: httpx.Response) -> StreamEnd:
    """``end`` with the provider's id of the request from the headers when the stream named none.

    Only the headers: the body of a streamed answer was consumed as it came, and is never read again here.
    """
    if end.request_id is not None:
        return end
    return StreamEnd(end.finish_reason, end.model, end.usage, request_id_of(response))


# -- async ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _aopen(
    sender: HTTPSender, url: str, json: Any, headers: dict[str, str], timer: StreamTimer
) -> AsyncIterator[_Opened]:
    sender._refuse_if_closed(False)
    client = sender._async.client()
    sender._refuse_if_closed(client.is_closed)
    request = _request(client, url, json, headers, timer)
    loop = asyncio.get_running_loop()

    def within() -> asyncio.Timeout:
        if timer.expired():
            raise timer.timed_out(request)
        return asyncio.timeout_at(loop.time() + (timer.read_by() - time.monotonic()))

    response: httpx.Response | None = None
    try:
        try:
            async with within():
                response = await client.send(request, stream=True, follow_redirects=False)
        except TimeoutError:
            raise timer.timed_out(request) from None
        error = None
        if not response.is_success:
            body = sender._body(response)
            if _in_memory(response):
                body.feed(response.content)
            else:
                async for raw in response.aiter_raw():
                    body.feed(raw)
                    if body.full or timer.expired():
                        break
            error = _finished(response, body)
        yield _Opened(response, error, _achunks(sender, response, request, timer, within))
    except (httpx.HTTPError, ProviderError) as exc:
        redact_exception(exc, request)
        if isinstance(exc, ProviderError):
            _tag(exc, response)
        raise
    finally:
        if response is not None:
            await response.aclose()


async def _achunks(
    sender: HTTPSender,
    response: httpx.Response,
    request: httpx.Request,
    timer: StreamTimer,
    within: Any,
) -> AsyncIterator[bytes]:
    body = _success_body(sender, response)
    if _in_memory(response):
        for piece in _pieces(response.content):
            for out in _decoded(body, piece):
                yield out
        return
    raw = response.aiter_raw()
    while True:
        try:
            async with within():
                chunk = await anext(raw, None)
        except TimeoutError:
            raise timer.timed_out(request) from None
        except httpx.TimeoutException:
            if timer.expired():
                raise timer.timed_out(request) from None
            raise
        if chunk is None:
            return
        for out in _decoded(body, chunk):
            yield out


async def astream_attempt(
    provider: HTTPProvider, req: LLMRequest, *, timeout_s: float, total_s: float, errors: ErrorMaps
) -> AsyncIterator[StreamPiece]:
    """:func:`stream_attempt`, awaited."""
    error_for_response, error_for_transport = errors
    from llm_client.streaming import parse_sse_block  # exercise 8

    check_attempt(req, timeout_s)
    headers = provider.headers()
    payload = provider.stream_payload(req)
    reading = StreamReading(provider.name, provider.stream_decoder(), parse_sse_block)
    timer = StreamTimer(timeout_s, total_s)
    try:
        async with _aopen(provider._http, provider.url, payload, headers, timer) as opened:
            if opened.error is not None:
                raise error_for_response(opened.error, provider=provider.name)
            chunks = opened.chunks
            try:
                async for chunk in chunks:
                    for text in reading.feed(chunk):
                        timer.text_arrived()
                        yield text
                    if reading.done:
                        break
            finally:
                await chunks.aclose()
            end = reading.finish()
        yield _with_id(end, opened.response)
    except httpx.HTTPError as exc:
        raise error_for_transport(exc, provider=provider.name) from exc
