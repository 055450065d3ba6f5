"""The errors the client raises, and which of them are worth retrying.

Every error that leaves the client is an :class:`LLMError`. Each one says
whether trying again could help (``retryable``), and each one that was caused
by something lower down (an ``httpx`` exception, a ``json`` error, a pydantic
``ValidationError``) is chained to it with ``raise ... from exc``, so the
original traceback is never lost.

The tree::

    LLMError                      base class; .retryable says if a retry may help
    ├── ConfigurationError        the client is set up wrongly (e.g. no API key)
    ├── ProviderError             one attempt at the provider failed
    │   ├── LLMTimeoutError       no answer within the per-attempt timeout  [retryable]
    │   ├── LLMConnectionError    could not connect, or the connection broke [retryable]
    │   ├── RateLimitError        HTTP 429; .retry_after in seconds or None  [retryable]
    │   ├── ServerError           HTTP 5xx, 529 (overloaded) and 409         [retryable]
    │   ├── MalformedResponseError  a 2xx whose body is not a usable answer  [retryable]
    │   ├── ContentRefusedError   the model refused, or a content filter stopped it [never retried]
    │   └── InvalidRequestError   HTTP 400/404/413/422 ...: fix the request  [never retried]
    │       └── AuthenticationError  HTTP 401/403: fix the key or access
    ├── StructuredOutputError     the text is not valid JSON for the schema;
    │                             .raw_text and .validation_errors
    └── RetriesExhaustedError     every allowed attempt failed; .attempts, .last_error
        └── DeadlineExceededError the next wait would have passed deadline_s

Anything else (``TypeError``, ``NotImplementedError``, ``KeyError`` ...) is a
programming error. The client never retries those and never wraps them: they
reach the caller at once, unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ContentRefusedError",
    "DeadlineExceededError",
    "InvalidRequestError",
    "LLMConnectionError",
    "LLMError",
    "LLMTimeoutError",
    "MalformedResponseError",
    "ProviderError",
    "RateLimitError",
    "RetriesExhaustedError",
    "ServerError",
    "StructuredOutputError",
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


class ProviderError(LLMError):
    """One attempt at the provider failed.

    ``status_code`` is the HTTP status when there was one, else None.
    ``provider_message`` is the provider's own explanation, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.provider_message = provider_message


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
        super().__init__(message, status_code=status_code, provider_message=provider_message)
        self.retry_after = retry_after


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
