"""Exercise 6 in the child: error_for_status, error_for_transport, and HTTPProvider.complete over a real transport.

Exercise 4's parse_retry_after is stood in for while an operation runs (the
grader's own copy, reading an HTTP-date relative to a fixed now), so exercise 6
is graded alone and a date's wait is the same in both children.

``complete`` builds an ``OpenAIProvider`` (or an ``AnthropicProvider``) for the
grader's loopback server (tests/hidden/loopback.py) and makes one call. Besides its outcome it returns
which transports carried requests: the provider's own client (``BoundedTransport``,
the sender's), or the client given to the provider (``given client``), or an
``httpx.HTTPTransport`` of some other client (any client made on the side, the
way respx would catch it), each with the timeout the request carried.
"""

from __future__ import annotations

import importlib
import logging
import math
import re
import ssl
import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import httpx._transports.default as _httpx_default

#: The "now" an HTTP-date's wait is read from (a Unix timestamp in 2027).
FROZEN_NOW = 1_800_000_000.0
#: The URL the built requests name (never sent anywhere).
URL = "https://llm.example.test/v1/chat/completions"

#: What error_for_response reads from a provider's error besides the status table (not all are wire fields).
DETAILS = ("error_type", "error_code", "request_id", "retry_after", "retryable")

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_MISSING = object()


def _seconds(value: str | None) -> float | None:
    if value is None or _NUMBER.fullmatch(value) is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def stand_in_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Exercise 4's parse_retry_after as the reference reads it, ``now`` fixed at FROZEN_NOW."""
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping, got {type(headers).__name__}")
    now = FROZEN_NOW if now is None else now
    lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}
    millis = _seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        if "," in value:
            return None
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@contextmanager
def exercise_4_stood_in() -> Iterator[None]:
    """Within the block, ``llm_client.retry_after.parse_retry_after`` (and the name http.py reads it by) is
    :func:`stand_in_retry_after`; a retry_after.py that does not even load is replaced for the block."""
    import llm_client.providers.http as http_module

    added = False
    try:
        module: Any = importlib.import_module("llm_client.retry_after")
    except Exception:
        module = types.ModuleType("llm_client.retry_after")
        sys.modules["llm_client.retry_after"] = module
        added = True
    saved = [(owner, owner.__dict__.get("parse_retry_after", _MISSING)) for owner in (http_module, module)]
    for owner, _ in saved:
        owner.parse_retry_after = stand_in_retry_after
    try:
        yield
    finally:
        for owner, before in saved:
            if before is _MISSING:
                owner.__dict__.pop("parse_retry_after", None)
            else:
                owner.parse_retry_after = before
        if added:
            sys.modules.pop("llm_client.retry_after", None)


def _signed_request(key: str | None) -> httpx.Request:
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return httpx.Request("POST", URL, headers=headers)


def error_for_status(
    channel: Any,
    *,
    statuses: list[int],
    headers: list[list[str]],
    body: str,
    encoding: str = "utf-8",
    reason: str | None = None,
    key: str | None = None,
    provider: str = "openai",
) -> list[dict[str, Any]]:
    """``error_for_status(response, provider=...)`` for a response of each of ``statuses``, with ``headers``
    and ``body`` (encoded with ``encoding``), to a request that carried ``key``: ``{"returned": ...}`` or
    ``{"raised": ...}`` for each status, in order."""
    outcomes: list[dict[str, Any]] = []
    with exercise_4_stood_in():
        from llm_client.providers.http import error_for_status as graded

        extensions = {"reason_phrase": reason.encode("ascii")} if reason is not None else {}
        for status in statuses:
            response = httpx.Response(
                status,
                headers=[(name, value) for name, value in headers],
                content=body.encode(encoding),
                request=_signed_request(key),
                extensions=extensions,
            )
            try:
                outcomes.append({"returned": graded(response, provider=provider)})
            except Exception as exc:  # the graded call's failure is what is described
                outcomes.append({"raised": exc})
    return outcomes


class ConnectionResetByPeer(httpx.ReadError):
    """A transport's own subclass of an httpx error."""


class SlowPool(httpx.PoolTimeout):
    """A transport's own subclass of an httpx timeout."""


def _transport_error(kind: str, text: str, request: httpx.Request) -> httpx.HTTPError:
    if kind == "HTTPError":
        return httpx.HTTPError(text)
    if kind == "HTTPStatusError":
        return httpx.HTTPStatusError(text, request=request, response=httpx.Response(502, request=request))
    own = {"ConnectionResetByPeer": ConnectionResetByPeer, "SlowPool": SlowPool}
    kind_class = own.get(kind) or getattr(httpx, kind)
    error: httpx.HTTPError = kind_class(text, request=request)
    return error


def error_for_transport(
    channel: Any, *, kinds: list[str], text: str, key: str | None, provider: str = "openai"
) -> list[dict[str, Any]]:
    """``error_for_transport(exc, provider=...)`` for an httpx error of each class of ``kinds`` (httpx's name,
    or one of the subclasses above) whose request carried ``key``: ``{"returned": ...}`` or ``{"raised": ...}``
    for each, in order."""
    from llm_client.providers.http import error_for_transport as graded

    outcomes: list[dict[str, Any]] = []
    for kind in kinds:
        try:
            outcomes.append({"returned": graded(_transport_error(kind, text, _signed_request(key)), provider=provider)})
        except Exception as exc:  # the graded call's failure is what is described
            outcomes.append({"raised": exc})
    return outcomes


class _Grab(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(record.getMessage())
        except Exception:
            self.texts.append(str(record.msg))


@contextmanager
def _http_logs() -> Iterator[_Grab]:
    """httpx's and httpcore's own log records, at every level, while the block runs."""
    grab = _Grab()
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(grab)
        logger.setLevel(logging.DEBUG)
    try:
        yield grab
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(grab)
            logger.setLevel(level)


def complete(
    channel: Any,
    *,
    port: int,
    key: str | None,
    req: dict[str, Any],
    timeout_s: float,
    given_client: bool,
    host: str = "127.0.0.1",
    reasoning: bool | None = None,
    max_response_bytes: int | None = None,
    transport_raises: str | None = None,
    raise_text: str = "",
    provider: str = "openai",
    transport_answers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``OpenAIProvider(api_key=key, base_url="http://HOST:PORT/v1", ...).complete(req, timeout_s=...)``, or
    with ``provider="anthropic"`` ``AnthropicProvider(api_key=key, base_url="http://HOST:PORT", ...)``.

    Returns ``{"returned": response}`` or ``{"raised": error}``, with ``sent`` (the transports that carried
    a request, see the module docstring) and whether httpx's or httpcore's log records showed the key.
    ``transport_raises``: the given client's transport raises this httpx error (an httpx class's name, or
    one of the subclasses above), or ValueError (a bug below complete), with ``raise_text``, instead of
    sending. ``transport_answers``: the given client's transport answers ``{"status", "headers", "body"}``
    itself, in memory (a status no connection hands over, such as a 1xx), instead of sending."""
    from llm_client import AnthropicProvider, OpenAIProvider
    from llm_client.request import LLMRequest

    sent: list[dict[str, Any]] = []
    original = httpx.HTTPTransport.handle_request

    def watched(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append({"through": type(transport).__name__, "timeout": request.extensions.get("timeout")})
        return original(transport, request)

    class GivenTransport(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append({"through": "given client", "timeout": request.extensions.get("timeout")})
            if transport_raises == "ValueError":
                raise ValueError(raise_text)
            if transport_raises is not None:
                raise _transport_error(transport_raises, raise_text, request)
            if transport_answers is not None:
                return httpx.Response(
                    transport_answers["status"],
                    headers=[(name, value) for name, value in transport_answers.get("headers", [])],
                    content=str(transport_answers.get("body", "")).encode("utf-8"),
                    request=request,
                )
            return original(self.inner, request)

        def close(self) -> None:
            self.inner.close()

    options: dict[str, Any] = {} if max_response_bytes is None else {"max_response_bytes": max_response_bytes}
    if reasoning is not None:
        options["reasoning"] = reasoning
    outcome: dict[str, Any] = {}
    made: Any = None
    client = None
    with _http_logs() as logs:
        httpx.HTTPTransport.handle_request = watched  # type: ignore[method-assign]
        httpx.create_ssl_context = _httpx_default.create_ssl_context = _made_once  # type: ignore[assignment]
        try:
            client = httpx.Client(transport=GivenTransport()) if given_client else None
            if provider == "anthropic":
                options.pop("reasoning", None)
                made = AnthropicProvider(api_key=key, base_url=f"http://{host}:{port}", http_client=client, **options)
            else:
                made = OpenAIProvider(api_key=key, base_url=f"http://{host}:{port}/v1", http_client=client, **options)
            with exercise_4_stood_in():
                try:
                    outcome["returned"] = made.complete(LLMRequest(**req), timeout_s=timeout_s)
                except Exception as exc:  # the graded call's failure is what is described
                    outcome["raised"] = exc
                    outcome["provider_details"] = {name: getattr(exc, name, None) for name in DETAILS}
        finally:
            httpx.HTTPTransport.handle_request = original  # type: ignore[method-assign]
            httpx.create_ssl_context = _httpx_default.create_ssl_context = _CREATE_SSL_CONTEXT
            if made is not None:
                made.close()
            if client is not None:
                client.close()
    outcome["sent"] = sent
    outcome["key_in_http_logs"] = bool(key) and any(key in text for text in logs.texts)
    return outcome


_CONTEXTS: list[ssl.SSLContext] = []
_CREATE_SSL_CONTEXT = httpx.create_ssl_context


def _made_once(verify: Any = True, *args: Any, **kwargs: Any) -> ssl.SSLContext:
    """httpx's TLS context, made once per child: the loopback server speaks plain http, and making one loads
    the certificates (half of a call's time). A context given is kept."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if not _CONTEXTS:
        _CONTEXTS.append(_CREATE_SSL_CONTEXT())
    return _CONTEXTS[0]


OPS = {
    "ex6.error_for_status": error_for_status,
    "ex6.error_for_transport": error_for_transport,
    "ex6.complete": complete,
}
