"""Exercise 1 in the child: calls through LLMClient (or AsyncLLMClient, which reuses after_failure), every
collaborator a proxy the grader answers.

The client is built from JSON settings with a provider, a cache, a wait rule
(``waits``) and a sleep that each ask the grader (``channel.ask``), and a clock
that reads the grader's fake clock as its last answer told it: the grader
scripts what each attempt meets and what it costs on that clock, the waits, and
the cache's contents, and records every question. ``key_fn`` is a
stand-in (``"key:" + prompt``), so exercise 2 is never used, nor exercises 3 and
4 (the wait rule is the grader's).

What comes back, per call: the whole answer ``call_response`` returns (text, model,
finish_reason, usage, request_id, from_cache: a stored answer's included) or the
error (described), which of the provider's own exceptions the error, its
``last_error`` and its ``__cause__`` are (by identity), and the categories of the
warnings the call raised; for the
whole run, which call each ``llm_client`` log record belongs to and the request
id it carries, as a token (``id0``, ``id1`` ... in order of appearance: the ids
are random, only which records share one counts).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

#: The exceptions that are not the kit's which a scripted provider may raise: bugs below the client.
BUGS: dict[str, type[Exception]] = {
    "ValueError": ValueError,
    "TypeError": TypeError,
    "KeyError": KeyError,
    "RuntimeError": RuntimeError,
    "OSError": OSError,
    "ZeroDivisionError": ZeroDivisionError,
}


class Runaway(BaseException):
    """Raised by the provider proxy when the grader refuses more attempts: a call that never ends."""


def _key_fn(req: Any) -> str:
    return "key:" + req.prompt


def _build_error(spec: dict[str, Any]) -> BaseException:
    """The exception ``spec`` names: a bug (``BUGS``) or a kit error with its fields, retryable flag and cause."""
    from llm_client import errors

    name = spec["class"]
    text = spec.get("text", f"scripted failure ({name.lower()})")  # never the class name: error_type is the class
    if name in BUGS:
        return BUGS[name](text)
    cls = getattr(errors, name)
    error: BaseException
    if cls is errors.RedirectError:
        error = cls(text, location="https://elsewhere.example/v1", status_code=spec.get("status_code"))
    elif cls is errors.ResponseTooLargeError:
        error = cls(text, limit_bytes=1000, status_code=spec.get("status_code"))
    elif cls is errors.StructuredOutputError:
        error = cls(text, raw_text="{", validation_errors=[{"loc": [], "msg": "not JSON", "type": "json_invalid"}])
    elif issubclass(cls, errors.ProviderError):
        error = cls(text, status_code=spec.get("status_code"), retry_after=spec.get("retry_after"))
    else:  # LLMError itself, ConfigurationError: the kit's errors that are not the provider's
        error = cls(text)
    if spec.get("retryable") is not None:
        error.retryable = spec["retryable"]  # type: ignore[attr-defined]  # as an x-should-retry header does
    if spec.get("cause") is not None:
        error.__cause__ = BUGS[spec["cause"]]("the cause below")
    return error


def call_sequence(
    channel: Any,
    *,
    settings: dict[str, Any],
    calls: list[dict[str, Any]],
    stored: dict[str, str] | None = None,
    use_async: bool = False,
    start: float,
) -> Any:
    """Build one client from ``settings`` and make each of ``calls`` (``{"prompt", "model", "options"}``) in turn.

    ``settings``: ``max_retries``, ``timeout_s``, ``deadline_s``, ``cache`` (True: a cache proxy, False: None),
    ``cache_truncated``, ``cache_namespace``. ``stored``: prompt -> text, put in the grader's cache under the
    key the client will use before the first call (``cache.seed``, not a call of the client's). ``start``: the
    grader's fake clock at first; each answer to an attempt or a sleep says where it is then (``now``), so the
    clock proxy reads it without asking.
    """
    import wire  # the child's copy, beside child.py

    import llm_client
    from llm_client import LLMRequest, LLMResponse
    from llm_client._internal.client_base import cache_scope

    raised: list[BaseException] = []
    current: dict[str, Any] = {"req": None}
    index = {"call": -1}
    now = {"s": start}  # the grader's fake clock, as its last answer told it (it moves only in attempts and sleeps)

    def index_of(value: object) -> int | None:
        return next((n for n, error in enumerate(raised) if error is value), None)

    def attempt(req: Any, timeout_s: Any) -> Any:
        answer = channel.ask(
            "provider.complete",
            {
                "call": index["call"],
                "model": wire.describe(getattr(req, "model", None)),
                "prompt": wire.describe(getattr(req, "prompt", None)),
                "same_request": req is current["req"],
                "timeout_s": wire.describe(timeout_s),
            },
        )
        now["s"] = answer.get("now", now["s"])
        if answer.get("halt"):
            raise SystemExit(3)
        if answer.get("runaway"):
            raise Runaway("the grader refused another attempt")
        if "raise" in answer:
            error = _build_error(answer["raise"])
            raised.append(error)
            raise error
        return LLMResponse(
            answer["text"],
            req.model,
            finish_reason=answer.get("finish_reason"),
            usage=answer.get("usage", {}),
            request_id=answer.get("request_id"),
        )

    class Provider:
        name = "hidden"

        def complete(self, req: Any, *, timeout_s: Any) -> Any:
            return attempt(req, timeout_s)

        async def acomplete(self, req: Any, *, timeout_s: Any) -> Any:
            return attempt(req, timeout_s)

    class Cache:
        def get(self, key: Any) -> Any:
            return channel.ask("cache.get", {"key": wire.describe(key)})

        def set(self, key: Any, value: Any) -> None:
            channel.ask("cache.set", {"key": wire.describe(key), "value": wire.describe(value)})

    def waits(error: Any, number: Any) -> Any:
        return channel.ask(
            "waits",
            {"error": type(error).__name__, "error_index": index_of(error), "attempt": wire.describe(number)},
        )

    def sleep(seconds: Any) -> None:
        now["s"] = channel.ask("sleep", {"seconds": wire.describe(seconds)})["now"]

    async def async_sleep(seconds: Any) -> None:
        sleep(seconds)

    def clock() -> Any:
        return now["s"]

    provider = Provider()
    namespace = settings.get("cache_namespace")
    options: dict[str, Any] = {
        "cache": Cache() if settings.get("cache") else None,
        "key_fn": _key_fn,
        "waits": waits,
        "sleep": async_sleep if use_async else sleep,
        "clock": clock,
        "max_retries": settings["max_retries"],
        "timeout_s": settings["timeout_s"],
        "deadline_s": settings.get("deadline_s"),
        "cache_truncated": settings.get("cache_truncated", False),
        "cache_namespace": namespace,
    }
    client: Any = (llm_client.AsyncLLMClient if use_async else llm_client.LLMClient)(provider, **options)
    if settings.get("cache"):
        for prompt, text in (stored or {}).items():
            key = cache_scope(provider, namespace) + _key_fn(LLMRequest(model="m", prompt=prompt))
            channel.ask("cache.seed", {"key": wire.describe(key), "value": wire.describe(text)})

    log_calls: list[list[Any]] = []
    ids: dict[str, str] = {}

    class Marks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            request_id = getattr(record, "request_id", None)
            if isinstance(request_id, str) and request_id:
                token: Any = ids.setdefault(request_id, f"id{len(ids)}")
            else:
                token = wire.describe(request_id) if hasattr(record, "request_id") else "<none>"
            log_calls.append([index["call"], token])

    marks = Marks(logging.DEBUG)
    logger = logging.getLogger("llm_client")
    logger.addHandler(marks)
    seen: list[dict[str, Any]] = []
    try:
        for n, call in enumerate(calls):
            index["call"] = n
            req = LLMRequest(model=call.get("model", "m"), prompt=call["prompt"])
            current["req"] = req
            outcome: Any
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    # call_response: call()'s text and the rest of the answer (a stored one's model, from_cache)
                    if use_async:
                        outcome = asyncio.run(client.call_response(req, **call.get("options", {})))
                    else:
                        outcome = client.call_response(req, **call.get("options", {}))
                except (Exception, Runaway) as exc:
                    outcome = exc
            seen.append(
                {
                    "outcome": outcome,
                    "is_attempt_error": index_of(outcome),
                    "last_error_is_attempt_error": index_of(getattr(outcome, "last_error", None)),
                    "cause_is_attempt_error": index_of(getattr(outcome, "__cause__", None)),
                    "warnings": [w.category.__name__ for w in caught],
                }
            )
    finally:
        logger.removeHandler(marks)
    return {"calls": seen, "log_calls": log_calls}


OPS = {"ex1.calls": call_sequence}
