"""The async client: LLMClient's contract, awaited, for pipelines that keep many requests in flight.

Only the waiting differs from :class:`~llm_client.LLMClient`. Everything else
is the same code:

- the settings, their checks, the cache key and the cache look-up
  (the base class both clients share);
- every retry decision: which errors are retried, the wait, the deadline
  (:func:`~llm_client.client.after_failure`, exercise 1, over the same
  :class:`~llm_client._internal.calls.Call`);
- structured output's flow (:func:`~llm_client.structured.structured_flow`),
  which both clients drive, each awaiting in its own way.

The cache is called directly from the event loop: ``MemoryCache`` takes
microseconds; an ``SQLiteCache`` read or write blocks the loop for as long as
SQLite takes (tens of microseconds on a local disk).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TypeVar

from pydantic import BaseModel

from llm_client._internal.calls import Call
from llm_client._internal.client_base import ClientBase, _answered
from llm_client.client import after_failure, default_wait
from llm_client.errors import LLMError
from llm_client.providers.base import AsyncProvider, LLMResponse
from llm_client.request import LLMRequest

__all__ = ["AsyncLLMClient"]

T = TypeVar("T", bound=BaseModel)


class AsyncLLMClient(ClientBase[AsyncProvider]):
    """A reliable client around one provider, for ``asyncio``: ``await client.call(req)``.

    The arguments, the defaults and the behaviour are :class:`~llm_client.LLMClient`'s,
    except that:

    - ``provider`` needs ``async acomplete(req, *, timeout_s) -> LLMResponse``
      (OpenAIProvider, AnthropicProvider and FakeProvider have it);
    - ``sleep`` is awaited: an async function of seconds, ``asyncio.sleep`` by default.

    Close it with ``await client.aclose()``, or use ``async with``, in the event
    loop that used it: that closes the ``httpx.AsyncClient`` the provider made.
    """

    _provider_method = "acomplete"
    _default_waits = staticmethod(default_wait)

    _default_sleep = staticmethod(asyncio.sleep)

    def _check_sleep(self, sleep: Callable[[float], object]) -> None:
        if sleep is time.sleep:
            raise TypeError("sleep must be an async function such as asyncio.sleep, got time.sleep")

    # -- the pieces ------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        waiting = self.sleep(seconds)
        if not inspect.isawaitable(waiting):
            raise TypeError(f"sleep must return an awaitable (use asyncio.sleep), got {type(waiting).__name__}")
        await waiting

    async def _call_path(self, req: LLMRequest, call: Call) -> LLMResponse:
        """LLMClient's call path, awaited: the cache, then the attempts, each failure decided by after_failure."""
        hit = self._lookup(req, call)
        if hit is not None:
            return hit
        last = call.policy.max_retries
        for attempt in range(last + 1):
            try:
                response = await self.provider.acomplete(req, timeout_s=call.attempt_timeout())
            except LLMError as exc:
                await self._pause(after_failure(call, exc, attempt))
                continue
            self._record(call, attempt, response)
            return response
        raise self._no_error_after(call)

    # -- the public calls ------------------------------------------------------------------

    async def call(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> str:
        """Return the model's text for ``req``: :meth:`LLMClient.call <llm_client.LLMClient.call>`, awaited."""
        answer = await self.call_response(req, timeout_s=timeout_s, max_retries=max_retries, use_cache=use_cache)
        return answer.text

    async def call_response(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> LLMResponse:
        """The whole answer to ``req``: :meth:`LLMClient.call_response
        <llm_client.LLMClient.call_response>`, awaited."""
        call = self._begin(req, timeout_s, max_retries, use_cache)

        async def fly() -> LLMResponse:
            return await self._call_path(req, call)

        response = await self._aflights.run(self._flight(req, call), fly)
        self._warn_if_truncated(response)
        return _answered(response, call)

    def stream(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> AsyncIterator[str]:
        """The text deltas of ``req``'s answer, as an async iterator: :meth:`LLMClient.stream
        <llm_client.LLMClient.stream>`'s promises. ``await it.aclose()`` (or cancelling the task)
        closes the connection at once; ``contextlib.aclosing`` does it for an ``async for`` left early."""
        from llm_client._internal.stream_path import astream_path

        call = self._begin(req, timeout_s, max_retries, use_cache)
        return astream_path(self, req, call, after_failure)

    async def call_structured(
        self,
        req: LLMRequest,
        schema: type[T],
        *,
        max_repairs: int = 1,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> T:
        """Return a validated ``schema`` instance: :meth:`LLMClient.call_structured
        <llm_client.LLMClient.call_structured>`, awaited.

        Drives the same flow as LLMClient, awaiting each answer.
        """
        call = self._begin_structured(req, schema, max_repairs, timeout_s, max_retries, use_cache)
        if call.cached is not None:
            return call.cached
        asked = next(call.flow)
        while True:
            text = await self.call(asked, timeout_s=timeout_s, max_retries=max_retries, use_cache=False)
            try:
                asked = call.flow.send(text)
            except StopIteration as done:
                return self._keep_structured(call, done)

    async def aclose(self) -> None:
        """Close what the provider opened (its ``aclose``, when it has one). A call after this raises
        ClientClosedError."""
        self._closed = True
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncLLMClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
