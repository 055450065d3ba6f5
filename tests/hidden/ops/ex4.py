"""Exercise 4 in the child: parse_retry_after over batches of headers, and retry_delay with a proxied backoff.

A batch runs case by case and describes each case's value or error, so one case's failure hides no other.
``parse_retry_after`` runs under the local time zone a case names (a POSIX TZ string, set with
``time.tzset``), so a date read through local time is seen. ``retry_delay`` gets a backoff that asks the
grader for its value, and runs with ``time.sleep`` asking the grader too: both show in the call trace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, SupportsIndex


@contextmanager
def _local_time_zone(tz: str | None) -> Iterator[None]:
    if tz is None:
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def _headers(pairs: list[list[str]], kind: str) -> Any:
    """The headers ``pairs`` name, as a plain dict or as ``httpx.Headers``."""
    if kind == "httpx":
        import httpx

        return httpx.Headers([(name, value) for name, value in pairs])
    return dict(pairs)


def parse_many(channel: Any, *, cases: list[dict[str, Any]]) -> Any:
    """``parse_retry_after`` of each case: ``{"headers": [[name, value], ...], "kind": "dict" | "httpx",
    "now": float | None (None: not passed), "tz": str | None}``; each case's value, or the error it raised."""
    from llm_client import parse_retry_after

    seen: list[Any] = []
    for case in cases:
        headers = _headers(case["headers"], case.get("kind", "dict"))
        try:
            with _local_time_zone(case.get("tz")):
                if case.get("now") is None:
                    seen.append(parse_retry_after(headers))
                else:
                    seen.append(parse_retry_after(headers, now=case["now"]))
        except Exception as exc:  # described, compared with the reference's
            seen.append(exc)
    return seen


_BAD_HEADERS: dict[str, Any] = {
    "none": None,
    "line": "Retry-After: 3",
    "pairs": [("Retry-After", "3")],
    "number": 3,
    "bytes": b"Retry-After: 3",
}


def parse_refuses(channel: Any, *, headers: str | None = None, now: Any = 0.0) -> Any:
    """One valid call (a stub fails there already), then ``parse_retry_after`` of the non-mapping ``headers``
    names (None: a valid mapping) with ``now`` (``"nan"``, ``"inf"``, ``"-inf"`` are those floats)."""
    from llm_client import parse_retry_after

    first = parse_retry_after({"retry-after": "1"}, now=0.0)
    given = _BAD_HEADERS[headers] if headers is not None else {"retry-after": "3"}
    if now in ("nan", "inf", "-inf"):
        now = float(now)
    return [first, parse_retry_after(given, now=now)]


_ERRORS = (
    "RateLimitError",
    "ServerError",
    "LLMTimeoutError",
    "LLMConnectionError",
    "MalformedResponseError",
    "ProviderError",
    "StructuredOutputError",
)


def _error(spec: dict[str, Any]) -> Any:
    """The error ``spec`` names: ``{"class": ..., "retry_after": float | None, "status_code": int | None}``;
    a class of the kit, or ``ValueError``/``"text"``/``None`` for what is no LLMError."""
    import llm_client

    name = spec["class"]
    if name == "ValueError":
        return ValueError("not an LLMError")
    if name == "text":
        return "RateLimitError"
    if name == "none":
        return None
    if name == "class":
        return llm_client.RateLimitError
    if name == "StructuredOutputError":
        return llm_client.StructuredOutputError("bad JSON", raw_text="{", validation_errors=[])
    kind = getattr(llm_client, name)
    if name == "RateLimitError":
        return kind(retry_after=spec.get("retry_after"))
    return kind(f"failed ({name})", status_code=spec.get("status_code"), retry_after=spec.get("retry_after"))


def _backoff(channel: Any, spec: Any) -> Any:
    """A backoff that asks the grader (``"proxy"``), or something that is none (``"none"``, ``"number"``)."""
    if spec == "none":
        return None
    if spec == "number":
        return 1.5

    def backoff(attempt: Any) -> Any:
        shown = attempt if type(attempt) in (int, float, str, bool) or attempt is None else repr(attempt)
        answer = channel.ask("backoff", {"attempt": shown, "type": type(attempt).__name__})
        if isinstance(answer, dict) and "raise" in answer:
            raise RuntimeError(answer["raise"])
        return answer

    return backoff


@contextmanager
def _sleep_asks(channel: Any) -> Iterator[None]:
    """``time.sleep`` asks the grader (and returns at once) while the block runs."""
    real = time.sleep

    def sleep(seconds: float | SupportsIndex) -> None:
        channel.ask("time.sleep", {"seconds": seconds if type(seconds) in (int, float) else repr(seconds)})

    import llm_client.retry_after as module

    bound = getattr(module, "sleep", None) is real  # `from time import sleep` in the graded file
    time.sleep = sleep
    if bound:
        module.sleep = sleep  # type: ignore[attr-defined]
    try:
        yield
    finally:
        time.sleep = real
        if bound:
            module.sleep = real  # type: ignore[attr-defined]


def delays(channel: Any, *, cases: list[dict[str, Any]]) -> Any:
    """``retry_delay(error, attempt, max_retry_after_s=..., backoff=...)`` of each case: ``{"error": spec,
    "attempt": ..., "max_retry_after_s": ..., "backoff": "proxy" | "none" | "number"}`` (a float given as
    ``"nan"``, ``"inf"`` or ``"-inf"`` is that float); each case's value, or the error it raised."""
    from llm_client import retry_delay

    seen: list[Any] = []
    with _sleep_asks(channel):
        for case in cases:
            cap = case["max_retry_after_s"]
            cap = float(cap) if cap in ("nan", "inf", "-inf") else cap
            channel.ask("case", {"index": len(seen)})
            try:
                seen.append(
                    retry_delay(
                        _error(case["error"]),
                        case["attempt"],
                        max_retry_after_s=cap,
                        backoff=_backoff(channel, case.get("backoff", "proxy")),
                    )
                )
            except Exception as exc:  # described, compared with the reference's
                seen.append(exc)
    return seen


OPS = {"ex4.parse_many": parse_many, "ex4.parse_refuses": parse_refuses, "ex4.delays": delays}
