"""What the HTTP providers need beyond the lesson: URLs, keys, redaction, and reading bodies and headers.

Every credential a request sent is kept out of what the kit builds from a
server's answer (error messages, log lines, rate-limit headers), because some
servers echo the key they were given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx

from llm_client._internal.log_redaction import remember_secret, secrets_pattern
from llm_client.errors import MalformedResponseError, ProviderError

__all__ = [
    "asked_wait",
    "check_base_url",
    "credentials_redacted",
    "is_quota",
    "json_body",
    "parse_retry_after",
    "provider_details",
    "provider_message",
    "rate_limit_headers",
    "redact_credentials",
    "redact_exception",
    "redact_request_credentials",
    "resolve_api_key",
    "retry_after_applies",
]

_MESSAGE_LIMIT = 500


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Exercise 4's parse_retry_after (llm_client/retry_after.py), imported when a 429 needs it.

    So this module, and exercise 6 with it, loads whatever state exercise 4's file is in.
    """
    from llm_client import retry_after

    return retry_after.parse_retry_after(headers)


def check_base_url(base_url: object) -> str:
    """Return ``base_url`` without a trailing slash, or raise ValueError naming it.

    It must be an http(s) URL that httpx can parse (a bad port, bracket or
    control character would otherwise fail at every call, outside the error tree).
    """
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    try:
        httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a valid URL ({exc}): {base_url!r}") from exc
    return base_url.rstrip("/")


def resolve_api_key(api_key: str | None, env_var: str) -> str | None:
    """The key given as an argument, else the environment variable ``env_var``, else None.

    Surrounding whitespace is dropped (a key read from a file often ends in a
    newline). A key with any other character that cannot be sent in an HTTP
    header (spaces, control characters, non-ASCII) raises ValueError naming
    where it came from; the message never repeats the key, because the HTTP
    library's own error would (in its message and its debug log).
    A key returned is redacted from httpx's and httpcore's own log records
    from then on (:mod:`~llm_client._internal.log_redaction`).
    """
    if api_key is not None:
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        source, key = "api_key", api_key
    else:
        source, key = env_var, os.environ.get(env_var, "")
    key = key.strip()
    if not key:
        return None
    if not all("!" <= char <= "~" for char in key):
        raise ValueError(
            f"{source} holds a character that cannot be sent in an HTTP header "
            "(a space, a control character or non-ASCII); check how the key was copied"
        )
    remember_secret(key)
    return key


_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")


def redact_credentials(text: str, response: httpx.Response) -> str:
    """``text`` with every credential the request of ``response`` sent replaced by ``[redacted]``.

    Some servers echo the key they were given in their error message; this
    keeps it out of exception messages and log lines built from that text.
    """
    try:
        request = response.request
    except RuntimeError:  # a Response built without a request
        return text
    return redact_request_credentials(text, request)


def redact_request_credentials(text: str, request: httpx.Request) -> str:
    """``text`` with every credential ``request`` sent replaced by ``[redacted]``, as sent and
    percent-encoded in either case (as a server quoting it in a URL or a message would)."""
    secrets: list[str] = []
    for name in _CREDENTIAL_HEADERS:
        value = request.headers.get(name, "")
        secrets += [value, value.removeprefix("Bearer ").removeprefix("bearer ")]
    pattern = secrets_pattern(secrets)
    return text if pattern is None else pattern.sub("[redacted]", text)


#: The attributes of the kit's errors that may quote a server (ProviderError, RedirectError).
_QUOTING_ATTRIBUTES = ("provider_message", "location")


@contextmanager
def credentials_redacted(response: httpx.Response) -> Iterator[None]:
    """Any ProviderError or httpx error raised in the block has every credential the request of
    ``response`` sent redacted (:func:`redact_exception`): parsing quotes what the server sent. A
    ProviderError also gets the provider's id of the request."""
    try:
        yield
    except (ProviderError, httpx.HTTPError) as exc:
        if isinstance(exc, ProviderError) and exc.request_id is None:
            exc.request_id = request_id_of(response)
        with suppress(RuntimeError):  # a Response built without a request sent no credential
            redact_exception(exc, response.request)
        raise


def redact_exception(exc: BaseException, request: httpx.Request) -> None:
    """Redact, in place, every credential ``request`` sent from the messages of ``exc`` and of
    the exceptions chained below it (httpx, httpcore and h11 quote a malformed status or
    header line, which a server may have filled with the key it was sent)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.args = tuple(
            redact_request_credentials(arg, request) if isinstance(arg, str) else arg for arg in current.args
        )
        for name in _QUOTING_ATTRIBUTES:
            value = getattr(current, name, None)
            if isinstance(value, str):
                setattr(current, name, redact_request_credentials(value, request))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))


_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")


def rate_limit_headers(response: httpx.Response) -> dict[str, str]:
    """The rate-limit headers of ``response`` (names lower-case), any credential the request sent redacted."""
    return {
        name: redact_credentials(value, response)
        for name, value in response.headers.items()
        if name.lower().startswith(_RATE_LIMIT_PREFIXES)
    }


def _body(response: httpx.Response) -> Any:
    """The response's JSON body, or None: not JSON, or a streamed body already consumed (never read again)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None


def provider_message(response: httpx.Response) -> str | None:
    """The provider's own explanation from an error body, or None.

    Understands ``{"error": {"message": ...}}`` (OpenAI, Anthropic and most
    compatible servers), ``{"error": "..."}``, ``{"message": ...}``,
    ``{"detail": "..."}`` and ``{"detail": [{"msg": ...}, ...]}`` (servers built
    on FastAPI), a JSON string, and a short ``text/plain`` body. Any other body
    (a proxy's HTML page, say) gives None. Any credential the request sent is
    redacted from it.
    """
    body = _body(response)
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None:
            message = body.get("message")
        if message is None:
            detail = body.get("detail")
            if isinstance(detail, list):
                parts = [str(item.get("msg")) for item in detail if isinstance(item, dict) and item.get("msg")]
                detail = "; ".join(parts) or None
            message = detail
    elif isinstance(body, str):
        message = body
    elif body is None and response.headers.get("content-type", "").lower().startswith("text/plain"):
        with suppress(UnicodeDecodeError):
            message = response.text.strip()
        if message and message.startswith("<"):  # markup labelled as text: a proxy's page, not an explanation
            message = None
    if not isinstance(message, str) or not message:
        return None
    return redact_credentials(message, response)[:_MESSAGE_LIMIT]


#: The headers that carry the provider's id of a request (OpenAI's, Anthropic's), the first one wins.
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")


def provider_details(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """The provider's error ``type`` and ``code`` (``context_length_exceeded``, ``overloaded_error`` ...) from
    an error body, and the provider's id of the request from its headers; each None when not given. Any
    credential the request sent is redacted from them."""
    body = _body(response)
    error = body.get("error") if isinstance(body, dict) else None
    kind = code = None
    if isinstance(error, dict):
        kind, code = error.get("type"), error.get("code")

    def text(value: Any) -> str | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        return redact_credentials(value, response)[:200] if isinstance(value, str) and value else None

    return text(kind), text(code), request_id_of(response)


def request_id_of(response: httpx.Response) -> str | None:
    """The provider's id of the request, from the response's headers only (``x-request-id``, Anthropic's
    ``request-id``), redacted and cut at 200 characters; None when not given. Never reads the body, so it
    is safe on a streamed response."""
    found = next((response.headers[name] for name in _REQUEST_ID_HEADERS if name in response.headers), None)
    return redact_credentials(found, response)[:200] if found else None


# 429 bodies that no wait within a call cures. Codes from OpenAI's documented error codes
# (insufficient_quota; billing_hard_limit_reached, billing_not_active, access_terminated);
# phrases from the messages OpenAI and Anthropic send with such 429s.
_QUOTA_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "access_terminated"}
)
_QUOTA_PHRASES = (
    "exceeded your current quota",
    "billing",
    "spend limit",
    "spending limit",
    "monthly budget",
    "usage limit",
    "credit balance",
    "request too large",
)


def is_quota(response: httpx.Response) -> bool:
    """True for a 429 whose body says the account's quota, credit or a spend limit ran out,
    or that this one request is larger than the per-minute token limit."""
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        return False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    codes = {str(error.get(field) or "").lower() for field in ("code", "type")}
    message = str(error.get("message") or "").lower()
    return bool(codes & _QUOTA_CODES) or any(phrase in message for phrase in _QUOTA_PHRASES)


def retry_after_applies(status: int) -> bool:
    """True for a status whose Retry-After error_for_response reads: 408, 409 and 5xx (500-599)."""
    return status in (408, 409) or 500 <= status < 600


def asked_wait(response: httpx.Response) -> float | None:
    """The wait ``response`` asks for, read by exercise 4's parse_retry_after; None while that
    exercise is unwritten or its file does not load (its grading is its own, not exercise 6's)."""
    try:
        from llm_client import retry_after
    except Exception:  # exercise 4's file is broken: no wait is read, the backoff applies
        return None
    try:
        return retry_after.parse_retry_after(response.headers)
    except NotImplementedError:
        return None


def json_body(response: httpx.Response, *, provider: str) -> dict[str, Any]:
    """The JSON object of a 2xx ``response``, or MalformedResponseError (truncated, HTML, not an object)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = redact_credentials(response.text, response)[:80].replace("\n", " ")
        raise MalformedResponseError(
            f"{provider} answered HTTP {response.status_code} with a body that is not JSON: {snippet!r}",
            status_code=response.status_code,
        ) from exc
    if not isinstance(body, dict):
        raise MalformedResponseError(
            f"{provider} answered with JSON that is not an object: "
            f"{redact_credentials(json.dumps(body), response)[:80]}",
            status_code=response.status_code,
        )
    if body.get("error"):
        raise MalformedResponseError(
            f"{provider} answered HTTP {response.status_code} with an error body: {provider_message(response)}",
            status_code=response.status_code,
            provider_message=provider_message(response),
        )
    return body
