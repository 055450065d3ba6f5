"""Exercise 8 (optional): streaming (parse_sse_block and after_stream_failure).

``parse_sse_block(lines)`` turns the lines of one Server-Sent Event into an
``SSEEvent`` (or None); ``after_stream_failure(call, error, attempt,
partial_text, after_failure)`` decides what a failed stream means: before any
text, what the ``after_failure`` it is given (exercise 1's, in the client)
decides; after it, StreamInterruptedError. Here ``after_failure`` is a
stand-in, so this exercise is graded alone.
"""

from __future__ import annotations

import logging

import pytest

from llm_client import (
    ContentRefusedError,
    LLMError,
    LLMTimeoutError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    StreamInterruptedError,
)
from llm_client._internal.calls import Call
from llm_client._internal.policy import RetryPolicy
from llm_client._internal.stream_core import SSEEvent
from llm_client.streaming import after_stream_failure, parse_sse_block

pytestmark = pytest.mark.ex8

DECIDED: list[tuple[Call, LLMError, int]] = []


def after_failure(call: Call, error: LLMError, attempt: int) -> float:
    """A stand-in for exercise 1's decision: a 0.5 s wait, and giving up after attempt 1."""
    DECIDED.append((call, error, attempt))
    if attempt >= call.policy.max_retries:
        raise RetriesExhaustedError("gave up", attempts=attempt + 1, last_error=error) from error
    return 0.5


def make_call(max_retries: int = 2) -> Call:
    return Call(
        RetryPolicy(max_retries=max_retries, timeout_s=1.0),
        key=None,
        clock=lambda: 0.0,
        waits=lambda error, attempt: 0.5,
        request_id="r",
        model="m",
    )


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_data_lines_become_one_event_and_comments_are_skipped() -> None:
    got = parse_sse_block(["event: content_block_delta", ": a comment", "data: a", "data:b"])
    assert got == SSEEvent("content_block_delta", "a\nb"), (
        f"expected SSEEvent('content_block_delta', 'a\\nb'), got {got!r}: data lines join with a newline, "
        "one space after the colon is dropped, a line opening with ':' is a comment"
    )
    got = parse_sse_block(["data: [DONE]"])
    assert got == SSEEvent("message", "[DONE]"), f"an event with no 'event' line is a 'message'; got {got!r}"
    for lines, want in (
        (["event: a", "event: b", "data: x"], SSEEvent("b", "x")),  # the last event line wins
        (["event:", "data: x"], SSEEvent("message", "x")),  # an empty event name means "message"
        (["data: a:b", "retry: 1"], SSEEvent("message", "a:b")),  # split at the first colon only
        (["data", "data"], SSEEvent("message", "\n")),  # a line with no colon is a field with an empty value
    ):
        got = parse_sse_block(lines)
        assert got == want, f"expected {want!r} for {lines!r}, got {got!r}"


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_a_block_without_data_is_no_event() -> None:
    for lines in ([": ping"], ["event: ping"], ["data"], ["id: 3", "retry: 10"]):
        got = parse_sse_block(lines)
        assert got is None, f"expected None for {lines!r} (no data, no event), got {got!r}"
    got = parse_sse_block(["data:  two spaces", "id: 1"])
    assert got == SSEEvent("message", " two spaces"), f"only one space is dropped; got {got!r}"
    got = parse_sse_block(["Data: x", "DATA: y"])
    assert got is None, f"field names are case-sensitive: 'Data' is not 'data'; got {got!r}"


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_before_any_text_a_failure_is_decided_by_after_failure() -> None:
    call = make_call(max_retries=1)
    DECIDED.clear()
    busy = ServerError("busy")
    wait = after_stream_failure(call, busy, 0, "", after_failure)
    assert wait == 0.5, f"expected after_failure's wait (0.5 s) before any text was yielded, got {wait!r}"
    assert DECIDED == [(call, busy, 0)], f"expected after_failure(call, error, attempt) once, got {DECIDED!r}"
    refused = ContentRefusedError("no")
    wait = after_stream_failure(call, refused, 0, "", after_failure)
    assert wait == 0.5, f"before any text even a refusal is after_failure's to decide; got {wait!r}"
    with pytest.raises(RetriesExhaustedError):
        after_stream_failure(call, ServerError("busy"), 1, "", after_failure)


@pytest.mark.points(2)
@pytest.mark.hint(3)
def test_after_text_a_failure_is_a_stream_interrupted_error_with_the_partial_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cause = ServerError("cut")
    DECIDED.clear()
    with caplog.at_level(logging.INFO, logger="llm_client"), pytest.raises(StreamInterruptedError) as caught:
        after_stream_failure(make_call(), cause, 0, "Hel", after_failure)
    error = caught.value
    assert error.partial_text == "Hel" and error.cause is cause and error.__cause__ is cause, (
        "expected StreamInterruptedError with partial_text='Hel' and cause the error, chained to it"
    )
    lines = [r for r in caplog.records if getattr(r, "event", None) == "llm.stream_interrupted"]
    assert len(lines) == 1, f"expected one llm.stream_interrupted log line, got {[vars(r) for r in lines]}"
    line = lines[0]
    assert (line.levelno, getattr(line, "error_type", None), getattr(line, "partial_chars", None)) == (
        logging.ERROR, "ServerError", 3
    ), "llm.stream_interrupted is logged at ERROR with error_type (the class name) and partial_chars"
    refused = ContentRefusedError("no")
    with pytest.raises(ContentRefusedError) as refusal:
        after_stream_failure(make_call(), refused, 0, "Hel", after_failure)
    assert refusal.value is refused, "a refusal after text is raised as it is"
    assert DECIDED == [], "after text, after_failure is never asked: the stream is not retried"


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_after_text_no_failure_is_ever_retried_and_before_it_every_one_is_after_failures() -> None:
    for error in (ServerError("busy"), RateLimitError(retry_after=1.0), LLMTimeoutError("slow")):
        DECIDED.clear()
        call = make_call(max_retries=3)
        with pytest.raises(StreamInterruptedError) as caught:
            after_stream_failure(call, error, 0, "a", after_failure)
        assert caught.value.partial_text == "a" and DECIDED == [], (
            f"after text, even a retryable {type(error).__name__} ends the stream: a retry would repeat the text"
        )
        wait = after_stream_failure(call, error, 2, "", after_failure)
        assert wait == 0.5 and DECIDED == [(call, error, 2)], (
            f"before any text, a {type(error).__name__} is after_failure's to decide, with the attempt it was given"
        )
