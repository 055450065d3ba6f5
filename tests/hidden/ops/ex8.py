"""Exercise 8 in the child: parse_sse_block on one block's lines, after_stream_failure on one failed stream."""

from __future__ import annotations

import logging
from typing import Any


def parse_block(channel: Any, *, lines: list[str]) -> Any:
    """``parse_sse_block(lines)``: None, or ``["SSEEvent", event, data]`` (the class name and its two fields)."""
    from llm_client.streaming import parse_sse_block

    got = parse_sse_block(list(lines))
    if got is None:
        return None
    return [type(got).__name__, got.event, got.data]


#: The errors a failed stream may end with, by name: the kit's own, each made with a message.
ERRORS = (
    "ServerError", "LLMTimeoutError", "LLMConnectionError", "MalformedResponseError", "ContentRefusedError",
    "RateLimitError", "AuthenticationError", "InvalidRequestError", "QuotaExceededError",
)  # fmt: skip


def _error(name: str, message: str) -> Any:
    import llm_client.errors as errors

    kind = getattr(errors, name, None) or errors.ServerError
    try:
        return kind(message)
    except TypeError:
        return errors.ServerError(message)


def stream_failure(
    channel: Any, *, error: str, message: str, attempt: int, partial_text: str, max_retries: int, wait: float
) -> Any:
    """``after_stream_failure(call, <error>, attempt, partial_text, after_failure)`` with a stand-in
    ``after_failure`` that records each call and returns ``wait`` (raising RetriesExhaustedError after the last
    attempt). Returns what happened: the wait or what was raised (its class, which object it is, its partial text,
    cause and chaining), the stand-in's calls, and the log events (level, event, fields)."""
    from llm_client._internal.calls import Call
    from llm_client._internal.policy import RetryPolicy
    from llm_client.errors import RetriesExhaustedError
    from llm_client.streaming import after_stream_failure

    call = Call(
        RetryPolicy(max_retries=max_retries, timeout_s=1.0),
        key=None, clock=lambda: 0.0, waits=lambda e, a: wait, request_id="r", model="m",
    )  # fmt: skip
    failure = _error(error, message)
    decided: list[Any] = []
    given_up: list[BaseException] = []

    def after_failure(c: Any, e: Any, a: Any) -> float:
        decided.append([c is call, e is failure, a])
        if a >= max_retries:
            exc = RetriesExhaustedError("gave up", attempts=a + 1, last_error=e)
            given_up.append(exc)
            raise exc
        return wait

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    logger = logging.getLogger("llm_client")
    logger.addHandler(keep)
    try:
        outcome: dict[str, Any] = {"wait": after_stream_failure(call, failure, attempt, partial_text, after_failure)}
    except Exception as exc:  # what it raised is the answer
        outcome = {
            "raised": type(exc).__name__,
            "is_the_error": exc is failure,
            "is_after_failures": bool(given_up) and exc is given_up[0],
            "partial_text": getattr(exc, "partial_text", None),
            "cause_is_the_error": getattr(exc, "cause", None) is failure,
            "chained_to_the_error": exc.__cause__ is failure,
        }
    finally:
        logger.removeHandler(keep)
    outcome["decided"] = decided
    outcome["logs"] = [
        [r.levelno, getattr(r, "event", None), getattr(r, "attempt", None), getattr(r, "error_type", None),
         getattr(r, "partial_chars", None)]
        for r in records
        if getattr(r, "event", None) not in ("llm.retry_scheduled", "llm.attempt_failed")
    ]  # fmt: skip
    return outcome


OPS = {"ex8.parse_block": parse_block, "ex8.stream_failure": stream_failure}
