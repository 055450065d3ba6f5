"""Streaming: text as it is written, and the one decision a stream adds (exercise 8, optional).

``client.stream(req)`` yields the answer's text a piece (a *delta*) at a time.
Both providers send their answer as Server-Sent Events (SSE): lines of text,
``field: value``, an event ending at a blank line::

    event: content_block_delta
    data: {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}

    : a comment, which a server sends to keep the connection alive

You write two functions:

- :func:`parse_sse_block`: the lines of one event (between two blank lines)
  become an :class:`SSEEvent`, or None when they carry no data. The kit splits
  the bytes into lines and blocks, and reads each provider's JSON out of
  ``data`` (``_internal/stream_core.py``).
- :func:`after_stream_failure`: what a failed stream means. Before its first
  delta, a failure is one more failed attempt, and exercise 1's
  ``after_failure`` decides (written once, never copied: the client passes it
  in). After it, the caller already holds part of the answer: retrying
  silently would repeat text, so the stream ends with StreamInterruptedError.
"""

from __future__ import annotations

import logging  # needed by ex8  # noqa: F401
from collections.abc import Callable, Sequence

from llm_client._internal.calls import Call
from llm_client._internal.stream_core import SSEEvent
from llm_client.errors import ContentRefusedError, LLMError, StreamInterruptedError  # needed by ex8  # noqa: F401

__all__ = ["SSEEvent", "after_stream_failure", "parse_sse_block"]


def parse_sse_block(lines: Sequence[str]) -> SSEEvent | None:
    """Return the event that ``lines`` (one block, no line endings, no blank line) spell, or None.

    The rules (the WHATWG "event stream" format, which both providers follow):

    - A line that starts with ``:`` is a comment: skip it (servers send
      ``: ping`` to keep a connection alive; it is not an event).
    - Any other line is ``field:value``, split at the first colon; one space
      right after the colon is dropped (``data: x`` and ``data:x`` are the
      same). A line with no colon is a field with an empty value.
    - ``data`` lines are joined with ``"\\n"`` in their order; ``event`` sets the
      type (the last one wins; an empty one means "message"). Other fields
      (``id``, ``retry``, unknown names) are ignored. Field names are
      case-sensitive.
    - A block whose joined data is empty (no ``data`` line, or a single empty
      one) is no event: return None.
    """
    # TODO(ex8): write parse_sse_block; notebooks/09_ex8_streaming.ipynb walks you through it.
    raise NotImplementedError("ex8: parse_sse_block is not written yet (see notebooks/09_ex8_streaming.ipynb)")


def after_stream_failure(
    call: Call,
    error: LLMError,
    attempt: int,
    partial_text: str,
    after_failure: Callable[[Call, LLMError, int], float],
) -> float:
    """Return the seconds to sleep before trying the stream again, or raise what ends it.

    ``partial_text`` is the text already yielded to the caller by this call ("" for none).
    ``after_failure`` is exercise 1's :func:`~llm_client.client.after_failure`, which the client passes in.

    - Nothing yielded yet: the failure is one more failed attempt; return
      what ``after_failure(call, error, attempt)`` returns (it logs, and
      returns the wait or raises).
    - Text already yielded: never retry. Log ``llm.stream_interrupted``
      (ERROR) with ``error_type`` (the error's class name) and
      ``partial_chars`` (``len(partial_text)``) through
      ``call.log(level, event, attempt, **fields)``. Then a
      ContentRefusedError (the model's own end, not a fault) is raised as it
      is; any other error is raised as StreamInterruptedError with
      ``partial_text`` and ``cause=error``, chained to ``error``.
    """
    # TODO(ex8): write after_stream_failure; notebooks/09_ex8_streaming.ipynb walks you through it.
    raise NotImplementedError("ex8: after_stream_failure is not written yet (see notebooks/09_ex8_streaming.ipynb)")
