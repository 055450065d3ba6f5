"""An offline provider for notebooks and tests: deterministic, scriptable, and it records every call."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from llm_client.errors import LLMError
from llm_client.providers.base import LLMResponse
from llm_client.request import LLMRequest

__all__ = ["FakeCall", "FakeProvider", "echo_reply"]

Reply = str | LLMError | BaseException | Callable[[LLMRequest], str]


@dataclass(frozen=True)
class FakeCall:
    """One call the fake received: the request and the per-attempt timeout in seconds."""

    request: LLMRequest
    timeout_s: float


def echo_reply(req: LLMRequest) -> str:
    """The default answer: the same text for the same request, in any process."""
    return f"[{req.model}] {req.prompt}"


class FakeProvider:
    """A provider that answers from a script instead of the network.

    ``script`` is consumed one item per call: a ``str`` is returned as the
    answer; an exception instance (for example ``RateLimitError(retry_after=2)``)
    is raised; a callable is called with the request and its result returned.
    When the script is used up, ``default`` answers (``echo_reply`` unless
    given). ``calls`` records every call, so tests and notebooks can count
    attempts and check the timeout each one was given.
    """

    name = "fake"

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        default: Callable[[LLMRequest], str] | None = echo_reply,
    ) -> None:
        self._script: deque[Reply] = deque(script)
        self._default = default
        self.calls: list[FakeCall] = []

    def __repr__(self) -> str:
        return f"FakeProvider(remaining={len(self._script)}, calls={len(self.calls)})"

    @property
    def call_count(self) -> int:
        """How many calls were made."""
        return len(self.calls)

    def push(self, *replies: Reply) -> None:
        """Add replies to the end of the script."""
        self._script.extend(replies)

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        self.calls.append(FakeCall(req, timeout_s))
        if self._script:
            reply = self._script.popleft()
        elif self._default is not None:
            reply = self._default
        else:
            raise AssertionError("FakeProvider script is used up and no default was given")
        if isinstance(reply, BaseException):
            raise reply
        text = reply if isinstance(reply, str) else reply(req)
        return LLMResponse(text=text, model=req.model, finish_reason="stop")
