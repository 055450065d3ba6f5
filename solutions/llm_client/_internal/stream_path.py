"""The path of one stream through a client: the cache, the attempts, the decision after a failure, the end.

``LLMClient.stream`` and ``AsyncLLMClient.stream`` run it, passing in exercise
1's :func:`~llm_client.client.after_failure`; each failure meets exercise 8's
:func:`~llm_client.streaming.after_stream_failure`, which hands a failure
before the first delta to that ``after_failure`` (retried under the same policy) and
turns one after it into StreamInterruptedError (never retried). A stream
shares no flight with ``call()``; it shares the cache, under the same key, and
stores an answer only when the stream ended normally.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from llm_client._internal.calls import Call
from llm_client._internal.stream_core import StreamEnd
from llm_client.errors import LLMError, MalformedResponseError
from llm_client.providers.base import LLMResponse
from llm_client.request import LLMRequest

if TYPE_CHECKING:
    from llm_client._internal.async_client import AsyncLLMClient
    from llm_client._internal.client_base import ClientBase

__all__ = ["AfterFailure", "astream_path", "check_streaming", "stream_path"]

#: Exercise 1's decision after a failed attempt, which the client passes in: ``(call, error, attempt) -> seconds``.
AfterFailure = Callable[[Call, LLMError, int], float]


def check_streaming(client: ClientBase[Any], method: str) -> Callable[..., float]:
    """The decision after a stream's failure (exercise 8), and the provider's streaming method, or raise.

    NotImplementedError names exercise 8 while it is unwritten; TypeError when the provider cannot stream.
    """
    from llm_client import streaming

    probe = getattr(client.provider, method, None)
    if not callable(probe):
        raise TypeError(
            f"{type(client.provider).__name__} cannot stream: it has no {method}(req, *, timeout_s, total_s)"
        )
    streaming.parse_sse_block([])  # the stub's own NotImplementedError names exercise 8 and its notebook
    return streaming.after_stream_failure


def _total_s(client: ClientBase[Any], call: Call) -> float:
    """The bound of this attempt's whole stream: what is left of ``deadline_s``, else ``max_stream_s``."""
    deadline = call.policy.deadline_s
    if deadline is None:
        return client.max_stream_s
    return max(deadline - call.elapsed(), 1e-3)


def _ended(
    client: ClientBase[Any], req: LLMRequest, call: Call, attempt: int, text: str, end: StreamEnd, ttft: float | None
) -> None:
    """A stream that ended normally: log it with its time to first token, store it when it may be, warn if cut."""
    call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency(), ttft_s=ttft, streamed=True)
    response = LLMResponse(text, end.model or req.model, end.finish_reason, end.usage, request_id=end.request_id)
    if call.key is not None and client.cache is not None and (client.cache_truncated or not response.truncated):
        client.cache.set(call.key, text)
    client._warn_if_truncated(response)


def _no_end(client: ClientBase[Any]) -> MalformedResponseError:
    name = getattr(client.provider, "name", type(client.provider).__name__)
    return MalformedResponseError(f"{name}: the stream ended without its end")


def stream_path(client: ClientBase[Any], req: LLMRequest, call: Call, after_failure: AfterFailure) -> Iterator[str]:
    """The text deltas of ``req``'s answer (a cache hit: the whole answer as one delta)."""
    decide = check_streaming(client, "stream_attempt")
    return _stream(client, req, call, decide, after_failure)


def _stream(
    client: ClientBase[Any], req: LLMRequest, call: Call, decide: Callable[..., float], after_failure: AfterFailure
) -> Iterator[str]:
    cached = client._cached(call.key, req, call.request_id)
    if cached is not None:
        yield cached
        return
    parts: list[str] = []
    attempts = 1 + call.policy.max_retries
    for attempt in range(attempts):
        timeout_s = call.attempt_timeout()
        pieces = client.provider.stream_attempt(req, timeout_s=timeout_s, total_s=_total_s(client, call))
        ttft: float | None = None
        end: StreamEnd | None = None
        try:
            for piece in pieces:
                if isinstance(piece, StreamEnd):
                    end = piece
                    break
                if ttft is None:
                    ttft = call.latency()
                parts.append(piece)
                yield piece
            if end is None:
                raise _no_end(client)
        except LLMError as error:
            client.sleep(decide(call, error, attempt, "".join(parts), after_failure))
            continue
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        _ended(client, req, call, attempt, "".join(parts), end, ttft)
        return
    raise client._no_error_after(call)


def astream_path(
    client: AsyncLLMClient, req: LLMRequest, call: Call, after_failure: AfterFailure
) -> AsyncIterator[str]:
    """:func:`stream_path`, as an async iterator."""
    decide = check_streaming(client, "astream_attempt")
    return _astream(client, req, call, decide, after_failure)


async def _astream(
    client: AsyncLLMClient, req: LLMRequest, call: Call, decide: Callable[..., float], after_failure: AfterFailure
) -> AsyncIterator[str]:
    cached = client._cached(call.key, req, call.request_id)
    if cached is not None:
        yield cached
        return
    parts: list[str] = []
    provider: Any = client.provider
    attempts = 1 + call.policy.max_retries
    for attempt in range(attempts):
        timeout_s = call.attempt_timeout()
        pieces = provider.astream_attempt(req, timeout_s=timeout_s, total_s=_total_s(client, call))
        ttft: float | None = None
        end: StreamEnd | None = None
        try:
            async for piece in pieces:
                if isinstance(piece, StreamEnd):
                    end = piece
                    break
                if ttft is None:
                    ttft = call.latency()
                parts.append(piece)
                yield piece
            if end is None:
                raise _no_end(client)
        except LLMError as error:
            wait = decide(call, error, attempt, "".join(parts), after_failure)
            await client._pause(wait)
            continue
        finally:
            close = getattr(pieces, "aclose", None)
            if close is not None:
                await close()
        _ended(client, req, call, attempt, "".join(parts), end, ttft)
        return
    raise client._no_error_after(call)
