"""A rate limiter built on exercise 7's :class:`~llm_client.limiter.TokenBucket`, and a provider it paces.

:class:`RateLimiter` puts one or two buckets (requests per second, and
optionally tokens per minute) behind a lock, with an injectable clock and
sleep, for threads (:meth:`RateLimiter.acquire`) and for asyncio
(:meth:`RateLimiter.aacquire`). :class:`PacedProvider` makes every attempt of
a provider wait for its turn, retries included: a retry that skipped the queue
would take the turn of the request behind it, and at a pace right at the
provider's limit that request would then get a 429 too. It paces with any
:class:`Pacer`: a RateLimiter, or an
:class:`~llm_client._internal.adaptive.AdaptiveLimiter` that learns the limit
from each attempt's outcome, told apart by :func:`is_overload`: a 429 for the
caller's rate, or the provider's overload. Times are in seconds.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from llm_client._internal.checks import check_int, check_number
from llm_client._internal.rate_headers import parse_rate_limits
from llm_client.errors import ProviderError, RateLimitError
from llm_client.providers.base import LLMResponse
from llm_client.request import LLMRequest

__all__ = ["PacedProvider", "Pacer", "RateLimiter", "error_headers", "estimate_tokens", "is_overload"]

#: Words of an error's message or type that say the provider is short of capacity: OpenAI's "That model is
#: currently overloaded with other requests", Anthropic's "Overloaded" (type ``overloaded_error``), and the
#: "capacity" of others' 429s and 503s.
_OVERLOAD_WORDS = ("overload", "capacity")
#: Words that say the caller went over its own limit (OpenAI's "Rate limit reached for requests",
#: Anthropic's ``rate_limit_error``): such a 429 is a rate limit, whatever its headers say is left.
_RATE_LIMIT_WORDS = ("rate limit", "rate_limit", "ratelimit", "too many requests")


def estimate_tokens(req: LLMRequest) -> int:
    """A rough count of the tokens ``req`` may use, for a tokens-per-minute limit.

    About four characters per token for the system prompt and prompt, plus
    ``max_tokens`` (the most the answer may use): a safe upper bound, since
    OpenAI counts the larger of the two and Anthropic limits input and output
    tokens separately. Never less than 1.
    """
    if not isinstance(req, LLMRequest):
        raise TypeError(f"req must be an LLMRequest, got {type(req).__name__}")
    characters = len(req.prompt) + len(req.system_prompt or "")
    return max(1, math.ceil(characters / 4) + (req.max_tokens or 0))


class RateLimiter:
    """Paces requests to stay under ``requests_per_s`` and, optionally, ``tokens_per_minute``.

    - ``requests_per_s``: the request rate to stay under (> 0).
    - ``burst``: how many requests may go at once after a quiet spell (an int
      >= 1); 1, the default, spaces requests evenly, ``1 / requests_per_s`` apart.
    - ``tokens_per_minute``: None, or the token rate to stay under (> 0): a
      second bucket holding up to one minute's tokens.
    - ``clock``, ``sleep``, ``async_sleep``: injected so tests never wait
      (``time.monotonic``, ``time.sleep`` and ``asyncio.sleep`` by default).

    One limiter may be shared by threads and by tasks: the buckets are
    updated under a lock that is never held while waiting. A caller that is
    cancelled while it waits has still used its turn.
    """

    def __init__(
        self,
        requests_per_s: float,
        *,
        burst: int = 1,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        check_number("requests_per_s", requests_per_s, strictly_positive=True)
        check_int("burst", burst, minimum=1)
        if tokens_per_minute is not None:
            check_number("tokens_per_minute", tokens_per_minute, strictly_positive=True)
        for name, value in (("clock", clock), ("sleep", sleep), ("async_sleep", async_sleep)):
            if not callable(value):
                raise TypeError(f"{name} must be callable, got {type(value).__name__}")
        self.requests_per_s = float(requests_per_s)
        self.burst = burst
        self.tokens_per_minute = None if tokens_per_minute is None else float(tokens_per_minute)
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        start = clock()
        from llm_client.limiter import TokenBucket  # exercise 7, loaded only when a RateLimiter is made

        self._requests = TokenBucket(self.requests_per_s, burst, start=start)
        self._tokens = (
            None
            if self.tokens_per_minute is None
            else TokenBucket(self.tokens_per_minute / 60.0, self.tokens_per_minute, start=start)
        )

    def __repr__(self) -> str:
        tpm = "" if self.tokens_per_minute is None else f", tokens_per_minute={self.tokens_per_minute:g}"
        return f"RateLimiter(requests_per_s={self.requests_per_s:g}, burst={self.burst}{tpm})"

    def reserve(self, tokens: int = 0) -> float:
        """Take the next turn for a request of ``tokens`` tokens; return the seconds to wait before sending it.

        ``tokens`` counts only against ``tokens_per_minute`` (ignored without
        one); a request larger than a whole minute's tokens could never be
        sent, and raises ValueError.
        """
        check_int("tokens", tokens, minimum=0)
        if self.tokens_per_minute is not None and tokens > self.tokens_per_minute:
            raise ValueError(
                f"tokens={tokens} is more than tokens_per_minute={self.tokens_per_minute:g}; it could never be sent"
            )
        now = self._clock()
        with self._lock:
            wait = self._requests.take(now)
            if self._tokens is not None and tokens:
                wait = max(wait, self._tokens.take(now, tokens))
        return wait

    def acquire(self, tokens: int = 0) -> float:
        """Block until a request of ``tokens`` tokens may be sent; return the seconds waited."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    async def aacquire(self, tokens: int = 0) -> float:
        """Wait (without blocking the event loop) until a request of ``tokens`` tokens may be sent.

        Returns the seconds waited.
        """
        wait = self.reserve(tokens)
        if wait > 0:
            await self._async_sleep(wait)
        return wait

    def observe(
        self,
        turn: Any,
        headers: Mapping[str, str],
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        overloaded: bool = False,
    ) -> None:
        """A fixed pace learns nothing from an attempt's outcome (see :class:`Pacer`)."""


def error_headers(error: ProviderError) -> Mapping[str, str]:
    """The response headers an error carries (its ``headers``, when the provider put them there), or none."""
    headers = getattr(error, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def is_overload(error: ProviderError, tokens: int = 0) -> bool:
    """Whether ``error`` says the provider is overloaded, rather than that the caller went over its rate limit.

    An overload is a 529; any error whose provider message or error type
    (``error_type``, when the error carries one) speaks of overload or
    capacity (``overloaded_error``, "That model is currently overloaded");
    and a 429 whose own words say nothing of a rate limit, but whose
    rate-limit headers (``headers``, when the error carries them) say the
    allowance is not spent: a request left, and the ``tokens`` this one needs.
    A 429 that says it is a rate limit is one, whatever its headers say is
    left: the server may enforce a smaller bucket than it states.
    """
    if not isinstance(error, ProviderError):
        raise TypeError(f"error must be a ProviderError, got {type(error).__name__}")
    if error.status_code == 529:
        return True
    words = " ".join(str(part) for part in (error.provider_message, getattr(error, "error_type", None)) if part)
    words = words.lower()
    if any(word in words for word in _OVERLOAD_WORDS):
        return True
    if error.status_code != 429 or any(word in words for word in _RATE_LIMIT_WORDS):
        return False
    limits = parse_rate_limits(error_headers(error))
    stated = [(allowance, need) for allowance, need in ((limits.requests, 1), (limits.tokens, tokens)) if allowance]
    return bool(stated) and all(allowance.remaining >= max(need, 1) for allowance, need in stated)


@runtime_checkable
class Pacer(Protocol):
    """What :class:`PacedProvider` needs of a limiter.

    ``acquire``/``aacquire`` wait (blocking, or in asyncio) until a request of
    ``tokens`` tokens may be sent, and return its turn; ``observe`` is then
    told how that attempt went: the answer's rate-limit headers, or a
    rate-limit 429 (``rate_limited``) with the ``Retry-After`` wait in seconds,
    or None, or an overload (``overloaded``: see :func:`is_overload`).
    """

    def acquire(self, tokens: int = 0) -> Any: ...

    async def aacquire(self, tokens: int = 0) -> Any: ...

    def observe(
        self,
        turn: Any,
        headers: Mapping[str, str],
        *,
        rate_limited: bool = False,
        retry_after: float | None = None,
        overloaded: bool = False,
    ) -> None: ...


class PacedProvider:
    """A provider whose every attempt first waits for its turn at ``limiter``.

    ``provider`` is any provider (``complete``, and ``acomplete`` for the
    async client); ``limiter`` any :class:`Pacer`. Each attempt, retries
    included, asks the limiter for one request of :func:`estimate_tokens`
    tokens; then it is the wrapped provider's attempt, unchanged, and the
    limiter is told its outcome: the answer's headers, its overload (see
    :func:`is_overload`), or its rate-limit 429. Other failures (a timeout, a
    broken connection, a 500) say nothing of the pace and are not told. Use it as
    ``LLMClient(PacedProvider(OpenAIProvider(), RateLimiter(50)))``; the
    batch runners do this for you.
    """

    def __init__(self, provider: Any, limiter: Pacer) -> None:
        if not (callable(getattr(provider, "complete", None)) or callable(getattr(provider, "acomplete", None))):
            raise TypeError(f"provider must have a complete or acomplete method, got {type(provider).__name__}")
        if not isinstance(limiter, Pacer):
            raise TypeError(f"limiter must be a RateLimiter or an AdaptiveLimiter, got {type(limiter).__name__}")
        self.provider = provider
        self.limiter = limiter
        self.name: str = getattr(provider, "name", type(provider).__name__)

    def __repr__(self) -> str:
        return f"PacedProvider({self.provider!r}, {self.limiter!r})"

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """Wait for a turn (blocking), then make the wrapped provider's attempt."""
        tokens = estimate_tokens(req)
        turn = self.limiter.acquire(tokens)
        try:
            response: LLMResponse = self.provider.complete(req, timeout_s=timeout_s)
        except ProviderError as exc:
            self._tell(turn, exc, tokens)
            raise
        self.limiter.observe(turn, response.headers)
        return response

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """Wait for a turn (without blocking the event loop), then make the wrapped provider's attempt."""
        tokens = estimate_tokens(req)
        turn = await self.limiter.aacquire(tokens)
        try:
            response: LLMResponse = await self.provider.acomplete(req, timeout_s=timeout_s)
        except ProviderError as exc:
            self._tell(turn, exc, tokens)
            raise
        self.limiter.observe(turn, response.headers)
        return response

    def _tell(self, turn: Any, error: ProviderError, tokens: int) -> None:
        """Tell the limiter of a failed attempt that speaks of the pace: an overload, or a rate-limit 429."""
        if is_overload(error, tokens):
            self.limiter.observe(turn, error_headers(error), overloaded=True)
        elif isinstance(error, RateLimitError):
            self.limiter.observe(turn, error_headers(error), rate_limited=True, retry_after=error.retry_after)

    def close(self) -> None:
        """Close the wrapped provider (its ``close``, when it has one)."""
        close = getattr(self.provider, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        """Close the wrapped provider (its ``aclose``, when it has one)."""
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()
