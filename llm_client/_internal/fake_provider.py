"""An offline provider for notebooks and tests: deterministic, scriptable, and it records every call."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_client.errors import LLMError
from llm_client.providers.base import LLMResponse, check_attempt
from llm_client.request import LLMRequest

if TYPE_CHECKING:
    from llm_client._internal.stream_core import StreamEnd

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


def _check_replies(name: str, replies: Iterable[object]) -> list[Reply]:
    checked: list[Reply] = []
    for index, reply in enumerate(replies):
        if isinstance(reply, type) and issubclass(reply, BaseException):
            # A class is callable, so it would be "called with the request" and its instance returned as text.
            raise TypeError(
                f"{name}[{index}] is the exception class {reply.__name__}; script an instance to raise, "
                f"e.g. {reply.__name__}('...')"
            )
        if not isinstance(reply, (str, BaseException)) and not callable(reply):
            raise TypeError(
                f"{name}[{index}] must be a str, an exception or a callable, got {type(reply).__name__}"
            )
        checked.append(reply)
    return checked


class FakeProvider:
    """A provider that answers from a script instead of the network.

    ``script`` is consumed one item per call: a ``str`` is returned as the
    answer; an exception instance (for example ``RateLimitError(retry_after=2)``)
    is raised; a callable is called with the request and its result returned.
    When the script is used up, ``default`` answers (``echo_reply`` unless
    given). ``calls`` records every call, so tests and notebooks can count
    attempts and check the timeout each one was given.

    A script that is a string or not iterable, an item of another kind, or a
    ``default`` that is neither None nor callable raises TypeError at once.
    """

    name = "fake"

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        default: Callable[[LLMRequest], str] | None = echo_reply,
    ) -> None:
        if isinstance(script, str) or not isinstance(script, Iterable):
            raise TypeError(f"script must be a list of replies, got {type(script).__name__}")
        if default is not None and not callable(default):
            raise TypeError(f"default must be callable or None, got {type(default).__name__}")
        self._script: deque[Reply] = deque(_check_replies("script", script))
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
        self._script.extend(_check_replies("replies", replies))

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        check_attempt(req, timeout_s)
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

    def stream_attempt(self, req: LLMRequest, *, timeout_s: float, total_s: float) -> Iterator[str | StreamEnd]:
        """One streamed attempt: the next reply of the script (as :meth:`complete` takes it), a word at a
        time, then its end. A scripted exception is raised before the first word."""
        from llm_client._internal.stream_core import StreamEnd

        response = self.complete(req, timeout_s=timeout_s)
        yield from re.findall(r"\s*\S+\s*|\s+", response.text)
        yield StreamEnd(response.finish_reason, response.model)

    async def astream_attempt(
        self, req: LLMRequest, *, timeout_s: float, total_s: float
    ) -> AsyncIterator[str | StreamEnd]:
        """:meth:`stream_attempt` for the async client."""
        for piece in self.stream_attempt(req, timeout_s=timeout_s, total_s=total_s):
            yield piece

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """:meth:`complete` for the async client: the same script, recorded in the same ``calls``."""
        return self.complete(req, timeout_s=timeout_s)
