"""What a stream is made of below the client: its clock, its bytes turned into events, and its end.

- :class:`StreamTimer`: the two bounds of one streamed attempt. ``idle_s``
  (the client's ``timeout_s``) bounds the wait for the first text delta and
  between deltas: only text restarts it, so a server that sends ``: ping``
  comments or ``ping`` events forever still meets it. ``total_s`` bounds the
  whole attempt (what is left of ``deadline_s``, else ``max_stream_s``).
- :class:`SSEReader`: bytes to events (UTF-8 decoded incrementally, lines
  split at CRLF, LF or CR, blocks at blank lines); each block becomes an
  event through the ``parse`` it is given (exercise 8's
  :func:`~llm_client.streaming.parse_sse_block`).
- :class:`StreamReading`: an SSEReader and one provider's decoder together:
  ``feed(bytes) -> text deltas``, then ``finish() -> StreamEnd``, or the
  ProviderError that ends the stream (an ``error`` event, malformed JSON, a
  missing end, a refusal).
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from llm_client.errors import (
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "SSEEvent",
    "SSEReader",
    "StreamDecoder",
    "StreamEnd",
    "StreamReading",
    "StreamTimer",
    "event_json",
    "stream_error",
]

#: The line endings of the event stream format: CRLF, LF or CR.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    """One Server-Sent Event: its type (``event``; "message" when the server named none) and its ``data``."""

    event: str
    data: str


@dataclass(frozen=True)
class StreamEnd:
    """How a stream ended normally: the provider's finish reason, model, token usage and request id."""

    finish_reason: str | None
    model: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    request_id: str | None = None


class StreamTimer:
    """The bounds of one streamed attempt, in seconds on ``clock`` (``time.monotonic``, as the sockets use).

    :meth:`read_by` is the moment the next read must end by: ``idle_s`` after
    the attempt started or after the last text delta (:meth:`text_arrived`),
    and never later than ``total_s`` after the attempt started.
    """

    def __init__(self, idle_s: float, total_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.total_s = total_s
        self._clock = clock
        now = clock()
        self.ends = now + total_s
        self._next_text_by = now + idle_s
        self.texts = 0

    def text_arrived(self) -> None:
        """A text delta arrived: the idle bound starts again from now (pings and comments never call this)."""
        self.texts += 1
        self._next_text_by = self._clock() + self.idle_s

    def read_by(self) -> float:
        """The moment the next read must end by."""
        return min(self._next_text_by, self.ends)

    def left(self) -> float:
        """Seconds until :meth:`read_by` (0.0 or less: a bound has passed)."""
        return self.read_by() - self._clock()

    def expired(self) -> bool:
        return self.left() <= 0.0

    def timed_out(self, request: httpx.Request | None = None) -> httpx.ReadTimeout:
        """The httpx timeout that names the bound that passed (the provider maps it to LLMTimeoutError)."""
        if self._next_text_by < self.ends:
            which = "first text delta" if self.texts == 0 else "next text delta"
            message = f"no {which} within timeout_s={self.idle_s:g} s (pings and comments do not count)"
        else:
            message = f"the stream passed its bound of {self.total_s:g} s (deadline_s, else max_stream_s)"
        return httpx.ReadTimeout(message, request=request)


class SSEReader:
    """Bytes in, :class:`~llm_client.streaming.SSEEvent` out; ``provider`` names the stream in errors."""

    def __init__(self, provider: str, parse: Callable[[list[str]], SSEEvent | None]) -> None:
        self._parse = parse
        self._provider = provider
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._text = ""
        self._block: list[str] = []
        self._started = False

    def feed(self, data: bytes, *, final: bool = False) -> list[SSEEvent]:
        """The events completed by ``data``; ``final`` True at the end of the body, which ends the last
        line and block too (the SDKs read a body that stops right after its last ``data:`` line so)."""
        try:
            self._text += self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise MalformedResponseError(f"{self._provider} streamed bytes that are not UTF-8") from exc
        if not self._started and self._text:
            self._text = self._text.removeprefix("\ufeff")
            self._started = True
        held = ""
        if not final and self._text.endswith("\r"):  # maybe the first half of a CRLF: wait for the next byte
            self._text, held = self._text[:-1], "\r"
        lines = _LINE_END.split(self._text)
        self._text = lines.pop() + held
        if final:  # the body ended: its last line and block count, as the SDKs' decoders read them
            lines += [self._text, ""] if self._text else [""]
            self._text = ""
        events: list[SSEEvent] = []
        for line in lines:
            if line:
                self._block.append(line)
                continue
            event = self._parse(self._block) if self._block else None
            self._block = []
            if event is not None:
                events.append(event)
        return events

    def feed_text(self, text: str) -> list[SSEEvent]:
        """:meth:`feed` for text already decoded (tests and notebooks)."""
        return self.feed(text.encode("utf-8"))


class StreamDecoder(Protocol):
    """One provider's reading of its events: text deltas out, and how the stream ended."""

    #: True once the provider's own end arrived (``[DONE]``, ``message_stop``).
    done: bool

    def feed(self, event: SSEEvent) -> list[str]:
        """The text deltas in ``event`` (often none); raises a ProviderError for an ``error`` event or bad JSON."""
        ...

    def end(self) -> StreamEnd:
        """How the stream ended (after ``done``); raises ContentRefusedError for a refusal."""
        ...


class StreamReading:
    """An :class:`SSEReader` feeding one provider's :class:`StreamDecoder`."""

    def __init__(self, provider: str, decoder: StreamDecoder, parse: Callable[[list[str]], SSEEvent | None]) -> None:
        self.provider = provider
        self._sse = SSEReader(provider, parse)
        self._decoder = decoder
        self._pending: ProviderError | None = None

    @property
    def done(self) -> bool:
        return self._decoder.done

    def feed(self, data: bytes) -> list[str]:
        """The non-empty text deltas in ``data``; events after the provider's end are ignored.

        An error after some text in the same piece is raised at the next :meth:`feed` or :meth:`finish`,
        so the text before it still reaches the caller first.
        """
        self._raise_pending()
        texts: list[str] = []
        try:
            for event in self._sse.feed(data):
                if self._decoder.done:
                    break
                texts += [text for text in self._decoder.feed(event) if text]
        except ProviderError as exc:
            if not texts:
                raise
            self._pending = exc
        return texts

    def _raise_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending

    def finish(self) -> StreamEnd:
        """The stream's end, once the body ended; MalformedResponseError when the provider's end never came."""
        self._raise_pending()
        if not self._decoder.done:
            for event in self._sse.feed(b"", final=True):
                if not self._decoder.done:
                    self._decoder.feed(event)
        if not self._decoder.done:
            raise MalformedResponseError(
                f"{self.provider}: the stream ended without its end event (the connection closed early)"
            )
        return self._decoder.end()


def event_json(provider: str, event: SSEEvent) -> dict[str, Any]:
    """The JSON object in ``event.data``, or MalformedResponseError (malformed SSE is a broken stream)."""
    try:
        body = json.loads(event.data)
    except ValueError as exc:
        raise MalformedResponseError(
            f"{provider} streamed an event whose data is not JSON: {event.data[:80]!r}"
        ) from exc
    if not isinstance(body, dict):
        raise MalformedResponseError(f"{provider} streamed an event whose data is not a JSON object")
    return body


#: A streamed ``error`` event's ``type`` (Anthropic's names, OpenAI's codes) -> the error it is.
_STREAM_ERRORS: dict[str, type[ProviderError]] = {
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "invalid_request_error": InvalidRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "not_found_error": InvalidRequestError,
    "request_too_large": InvalidRequestError,
}


def stream_error(provider: str, error: object) -> ProviderError:
    """The error for an ``error`` event (or an OpenAI chunk holding ``error``) sent mid-stream.

    An overload or an internal error (and anything unnamed) is a ServerError, retryable before the
    first delta like any attempt; the provider's ``type``, ``code`` and message are kept."""
    details = error if isinstance(error, dict) else {"message": error if isinstance(error, str) else None}
    kind = details.get("type") if isinstance(details.get("type"), str) else None
    code = details.get("code") if isinstance(details.get("code"), str) else None
    message = details.get("message") if isinstance(details.get("message"), str) else None
    cls = _STREAM_ERRORS.get(kind or "", _STREAM_ERRORS.get(code or "", ServerError))
    described = f"{provider} sent an error event mid-stream" + (f" ({kind})" if kind else "")
    if message:
        described += f": {message[:500]}"
    result = cls(described, provider_message=message[:500] if message else None)
    result.error_type, result.error_code = kind, code
    return result
