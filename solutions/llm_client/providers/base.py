"""What every provider is: one method that turns an LLMRequest into an LLMResponse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llm_client._internal.checks import check_number
from llm_client.request import LLMRequest

__all__ = ["AsyncProvider", "LLMResponse", "Provider", "check_attempt"]


def check_attempt(req: Any, timeout_s: Any) -> None:
    """Refuse what no provider may send: a ``req`` that is not an LLMRequest, a ``timeout_s`` that is not > 0.

    Providers call it first in ``complete``, so a bad call raises TypeError or
    ValueError naming the argument and nothing goes over the network.
    """
    if not isinstance(req, LLMRequest):
        raise TypeError(f"req must be an LLMRequest, got {type(req).__name__}")
    check_number("timeout_s", timeout_s, strictly_positive=True)


@dataclass(frozen=True)
class LLMResponse:
    """One successful answer.

    ``finish_reason`` is the provider's own word for why generation stopped
    (OpenAI ``finish_reason``: "stop", "length", ...; Anthropic
    ``stop_reason``: "end_turn", "max_tokens", "model_context_window_exceeded", ...),
    or None if not given.
    ``usage`` holds the token counts the provider reported. ``headers`` holds
    the response's rate-limit headers (names lower-case: ``x-ratelimit-*``,
    ``anthropic-ratelimit-*``, ``retry-after``), which an
    :class:`~llm_client._internal.adaptive.AdaptiveLimiter` learns the provider's limit from.
    ``request_id`` is the provider's id of the request (``x-request-id``,
    ``request-id``), or None. ``from_cache`` is True for an answer a client's
    ``call_response`` took from its cache.
    """

    text: str
    model: str
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    request_id: str | None = None
    from_cache: bool = False

    @property
    def truncated(self) -> bool:
        """True when the answer stopped at a token limit (the request's or the context
        window's), or the provider paused the turn (Anthropic's "pause_turn"), rather
        than naturally: the text is cut off."""
        return self.finish_reason in {"length", "max_tokens", "model_context_window_exceeded", "pause_turn"}


@runtime_checkable
class Provider(Protocol):
    """The seam between the client and one LLM API.

    ``complete`` makes exactly one attempt: it must pass ``timeout_s`` (seconds,
    > 0) to the HTTP layer, and raise a :class:`~llm_client.errors.ProviderError`
    subclass for every failure of the provider or the network, chained to its
    cause. Retrying, caching and logging are the client's job, not the provider's.
    """

    name: str

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        ...


@runtime_checkable
class AsyncProvider(Protocol):
    """The same seam for :class:`~llm_client.AsyncLLMClient`: ``acomplete`` is ``complete`` awaited.

    One attempt, ``timeout_s`` (seconds, > 0) passed to the HTTP layer, every
    failure a :class:`~llm_client.errors.ProviderError` chained to its cause;
    the same request gives the same answer as ``complete`` would.
    """

    name: str

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        ...
