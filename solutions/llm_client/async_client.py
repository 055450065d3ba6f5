"""The async client: LLMClient's contract, awaited, for pipelines that keep many requests in flight.

Only the waiting differs from :class:`~llm_client.LLMClient`. Everything else
is the same code:

- the settings, their checks, the cache key and the cache look-up
  (the base class both clients share);
- every retry decision: timeouts, which errors are retried, Retry-After,
  backoff, the deadline (:class:`~llm_client.retry.RetryState`);
- structured mode's repair loop, which is ``LLMClient.call_structured`` itself,
  replayed (see :class:`_StructuredReplay`).

The cache is called directly from the event loop: ``MemoryCache`` takes
microseconds; an ``SQLiteCache`` read or write blocks the loop for as long as
SQLite takes (tens of microseconds on a local disk).
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from pydantic import BaseModel

from llm_client.caches import Cache
from llm_client.client import LLMClient, _ClientBase
from llm_client.errors import LLMError
from llm_client.providers.base import AsyncProvider, LLMResponse
from llm_client.providers.fake import FakeProvider
from llm_client.request import LLMRequest, make_cache_key
from llm_client.retry import RetryPolicy

__all__ = ["AsyncLLMClient"]

T = TypeVar("T", bound=BaseModel)


class AsyncLLMClient(_ClientBase[AsyncProvider]):
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

    def __init__(
        self,
        provider: AsyncProvider,
        *,
        cache: Cache | None = None,
        max_retries: int = 2,
        timeout_s: float = 30.0,
        deadline_s: float | None = None,
        max_retry_after_s: float = 60.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        key_fn: Callable[[LLMRequest], str] = make_cache_key,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
    ) -> None:
        given: object = sleep
        if given is time.sleep:
            raise TypeError("sleep must be an async function such as asyncio.sleep, got time.sleep")
        super().__init__(
            provider,
            cache=cache,
            max_retries=max_retries,
            timeout_s=timeout_s,
            deadline_s=deadline_s,
            max_retry_after_s=max_retry_after_s,
            sleep=sleep,
            clock=clock,
            rng=rng,
            key_fn=key_fn,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
        )
        self._async_sleep = sleep

    # -- the pieces ------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        waiting = self._async_sleep(seconds)
        if not inspect.isawaitable(waiting):
            raise TypeError(f"sleep must return an awaitable (use asyncio.sleep), got {type(waiting).__name__}")
        await waiting

    async def _send(self, req: LLMRequest, policy: RetryPolicy, request_id: str) -> LLMResponse:
        """The retry loop, awaited: LLMClient's, over the same RetryState."""
        state = self._state(req, policy, request_id)
        for attempt in state.attempts:
            timeout_s = state.attempt_timeout()
            try:
                response = await self.provider.acomplete(req, timeout_s=timeout_s)
            except LLMError as exc:
                await self._pause(state.after_failure(exc, attempt))
                continue
            state.record_success(attempt)
            return response
        raise AssertionError("unreachable: after_failure raises on the last attempt")

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
        call = self._begin(req, timeout_s, max_retries, use_cache)
        if call.cached is not None:
            return call.cached
        response = await self._send(req, call.policy, call.request_id)
        return self._keep(call, response.text)

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

        The repair loop is LLMClient's own, run again from the start each time
        it needs a new answer (at most ``max_repairs + 1`` times), with the
        answers awaited so far; so both clients validate, repair, cache and
        fail in exactly the same way.
        """
        answers: list[str] = []
        while True:
            try:
                return _StructuredReplay(self, answers).call_structured(
                    req,
                    schema,
                    max_repairs=max_repairs,
                    timeout_s=timeout_s,
                    max_retries=max_retries,
                    use_cache=use_cache,
                )
            except _AnswerNeeded as needed:
                if len(answers) > max_repairs:
                    raise AssertionError("call_structured asked for more answers than max_repairs allows") from None
                text = await self.call(needed.request, timeout_s=timeout_s, max_retries=max_retries, use_cache=False)
                answers.append(text)

    async def aclose(self) -> None:
        """Close what the provider opened (its ``aclose``, when it has one)."""
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


class _AnswerNeeded(BaseException):
    """Stops a replay at the first request it has no answer for (control flow, like StopIteration)."""

    def __init__(self, request: LLMRequest) -> None:
        super().__init__(request)
        self.request = request


class _StructuredReplay(LLMClient):
    """``LLMClient.call_structured`` without I/O: its ``call`` returns ``answers`` in order.

    The first call past them raises :class:`_AnswerNeeded` with the request
    to send; AsyncLLMClient awaits that request's answer, appends it, and runs
    the replay again. Parsing and repair prompts are deterministic, so every
    run repeats the calls before it exactly. Cache look-ups and writes go to
    the async client's cache, with its key function.
    """

    def __init__(self, owner: AsyncLLMClient, answers: list[str]) -> None:
        super().__init__(FakeProvider(default=None), cache=owner.cache, key_fn=owner._key_fn, clock=owner._clock)
        self.policy = owner.policy
        self._answers = answers
        self._used = 0

    def call(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> str:
        if self._used < len(self._answers):
            self._used += 1
            return self._answers[self._used - 1]
        raise _AnswerNeeded(req)
