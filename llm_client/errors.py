"""The errors the client raises, and which of them are worth retrying.

Every error that leaves the client is an :class:`LLMError`. Each one says
whether trying again could help (``retryable``), and each one that was caused
by something lower down (an ``httpx`` exception, a ``json`` error, a pydantic
``ValidationError``) is chained to it with ``raise ... from exc``, so the
original traceback is never lost.

The tree::

    LLMError                      base class; .retryable says if a retry may help
    ├── ConfigurationError        the client is set up wrongly (e.g. no API key)
    │   └── ClientClosedError     a call on a client or provider already closed [never tried]
    ├── ProviderError             one attempt at the provider failed
    │   ├── LLMTimeoutError       no answer within the per-attempt timeout  [retryable]
    │   ├── LLMConnectionError    could not connect, or the connection broke [retryable]
    │   ├── RateLimitError        HTTP 429; .retry_after in seconds or None  [retryable]
    │   ├── QuotaExceededError    HTTP 429 that waiting will not cure: no credit, a spend
    │   │                         limit, one request over the per-minute limit [never retried]
    │   ├── ServerError           HTTP 5xx, 529 (overloaded) and 409         [retryable]
    │   ├── MalformedResponseError  a 2xx whose body is not a usable answer  [retryable]
    │   ├── ContentRefusedError   the model refused, or a content filter stopped it [never retried]
    │   ├── RedirectError         HTTP 3xx: never followed; .location        [never retried]
    │   ├── ResponseTooLargeError the body passed max_response_bytes         [never retried]
    │   └── InvalidRequestError   HTTP 400/404/413/422 ...: fix the request  [never retried]
    │       └── AuthenticationError  HTTP 401/403: fix the key or access
    ├── StructuredOutputError     the text is not valid JSON for the schema;
    │                             .raw_text and .validation_errors
    ├── StreamInterruptedError    a stream failed after some text was yielded;
    │                             .partial_text and .cause             [never retried]
    └── RetriesExhaustedError     every allowed attempt failed; .attempts, .last_error
        └── DeadlineExceededError the next wait would have passed deadline_s

Every ProviderError has ``retry_after``: the wait, in seconds, that the
provider asked for with ``Retry-After`` or ``retry-after-ms`` (on a 429, 408,
409, 5xx or 529), or None. A provider's ``x-should-retry: true|false`` header
overrides ``retryable`` on the error of that one response, as the official
OpenAI and Anthropic SDKs do.

A :class:`TruncatedAnswerWarning` (a warning, not an error) says an answer
stopped at the token limit: its text is returned but not cached.

Anything else (``TypeError``, ``NotImplementedError``, ``KeyError`` ...) is a
programming error. The client never retries those and never wraps them: they
reach the caller at once, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "ContentRefusedError",
    "DeadlineExceededError",
    "InvalidRequestError",
    "LLMConnectionError",
    "LLMError",
    "LLMTimeoutError",
    "MalformedResponseError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "RedirectError",
    "ResponseTooLargeError",
    "RetriesExhaustedError",
    "ServerError",
    "StreamInterruptedError",
    "StructuredOutputError",
    "TruncatedAnswerWarning",
]


class LLMError(Exception):
    """Base class of every error the client raises.

    ``retryable`` is a class-level default; a few subclasses refine it.
    """

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__ (some subclasses require keyword-only fields),
        # so an error pickled by a worker process unpickles with its message and fields.
        return _rebuild, (type(self), self.args), self.__dict__


def _rebuild(cls: type[LLMError], args: tuple[Any, ...]) -> LLMError:
    error = cls.__new__(cls)
    error.args = args
    return error


class ConfigurationError(LLMError):
    """The client or provider is configured wrongly (for example no API key)."""


class ClientClosedError(ConfigurationError):
    """A call on a client (or a provider) that was closed: raised at once, nothing is sent. Make a new one."""


class ProviderError(LLMError):
    """One attempt at the provider failed.

    ``status_code`` is the HTTP status when there was one, else None.
    ``provider_message`` is the provider's own explanation, when it gave one.
    ``retry_after`` is the wait the provider asked for, in seconds, or None.
    ``error_type`` and ``error_code`` are the provider's own names for the error
    (``invalid_request_error``, ``context_length_exceeded``, ``overloaded_error``)
    and ``request_id`` its id of the request (the first thing a support desk
    asks for), each None when the provider did not say.
    """

    error_type: str | None = None
    error_code: str | None = None
    request_id: str | None = None
    #: The response's rate-limit headers (names lower-case), or None: what a limiter tells a rate limit by.
    headers: Mapping[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        provider_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.provider_message = provider_message
        self.retry_after = retry_after


class LLMTimeoutError(ProviderError):
    """No complete answer arrived within the per-attempt timeout."""

    retryable = True


class LLMConnectionError(ProviderError):
    """The connection could not be made, or broke before an answer arrived."""

    retryable = True


class RateLimitError(ProviderError):
    """HTTP 429. ``retry_after`` is the wait the provider asked for, in seconds, or None."""

    retryable = True

    def __init__(
        self,
        message: str = "rate limited (HTTP 429)",
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, provider_message=provider_message, retry_after=retry_after
        )


class QuotaExceededError(ProviderError):
    """HTTP 429 that no wait within a call cures: the account is out of credit, a billing or
    spend limit is reached, or one request alone is larger than the per-minute token limit.
    Never retried; ``provider_message`` holds the provider's explanation."""

    retryable = False


class ServerError(ProviderError):
    """HTTP 5xx, 529 (overloaded) or 409 (conflict): the provider failed, the request may be fine."""

    retryable = True


class MalformedResponseError(ProviderError):
    """A success status whose body is not a usable answer (truncated, HTML, no choices)."""

    retryable = True


class ContentRefusedError(ProviderError):
    """The model refused to answer, or a content filter cut the answer off. Never retried:
    the same request gets the same refusal. ``provider_message`` holds the refusal text, if any."""

    retryable = False


class RedirectError(ProviderError):
    """HTTP 3xx. Redirects are never followed (they would carry the key and the prompt to
    another origin); fix ``base_url``. ``location`` is the target, credentials redacted."""

    retryable = False

    def __init__(self, message: str, *, location: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.location = location


class ResponseTooLargeError(ProviderError):
    """The body, counted after decompression, passed ``max_response_bytes``; reading stopped
    there. Never retried: the same request would get the same body. ``limit_bytes`` is the limit."""

    retryable = False

    def __init__(self, message: str, *, limit_bytes: int, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.limit_bytes = limit_bytes


class InvalidRequestError(ProviderError):
    """HTTP 4xx other than 408, 409 and 429: the request itself is wrong. Never retried."""

    retryable = False


class AuthenticationError(InvalidRequestError):
    """HTTP 401 or 403: the API key is missing, wrong, or lacks access."""


class StructuredOutputError(LLMError):
    """The model's text could not be parsed and validated against the schema.

    ``raw_text`` is the last text the model returned; ``validation_errors`` is
    a list of dicts in pydantic's ``errors()`` shape (``loc``, ``msg``, ``type``).
    """

    def __init__(
        self,
        message: str,
        *,
        raw_text: str,
        validation_errors: list[dict[str, Any]],
    ) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.validation_errors = validation_errors


class StreamInterruptedError(LLMError):
    """A stream failed after some of its text was already yielded: an ``error`` event, a cut
    connection, malformed SSE, a missing end, a timeout or a body past ``max_response_bytes``.

    Never retried: the caller already holds part of an answer, and only the caller knows
    whether to start again. ``partial_text`` is what was yielded; ``cause`` is the error
    that ended the stream (also ``__cause__``).
    """

    retryable = False

    def __init__(self, message: str, *, partial_text: str, cause: LLMError) -> None:
        super().__init__(message)
        self.partial_text = partial_text
        self.cause = cause


class RetriesExhaustedError(LLMError):
    """Every allowed attempt failed with a retryable error.

    ``attempts`` is how many attempts were made (1 or more); ``last_error`` is
    the error of the last one, also available as ``__cause__``.
    """

    def __init__(self, message: str, *, attempts: int, last_error: LLMError) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


class DeadlineExceededError(RetriesExhaustedError):
    """The client stopped early: waiting for the next attempt would pass ``deadline_s``."""


class TruncatedAnswerWarning(UserWarning):
    """The answer stopped short (``finish_reason`` "length", "max_tokens",
    "model_context_window_exceeded" or "pause_turn"): its text is returned but not cached
    (unless the client's ``cache_truncated`` is True). Turn it into an
    error with ``warnings.simplefilter("error", TruncatedAnswerWarning)``."""
